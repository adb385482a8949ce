//! The few DER elements read and written by hand: a certificate's outer
//! signatureAlgorithm exactly as encoded, and RSA keys of sizes the crypto
//! library refuses to load.

/// One element: its tag, its whole encoding and its contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Element<'a> {
    pub tag: u8,
    pub whole: &'a [u8],
    pub content: &'a [u8],
}

/// The element at the start of `der` and what follows it.
pub(crate) fn split(der: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let tag = *der.first()?;
    let first = *der.get(1)?;
    let (len, start) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let len = der
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, 2 + n)
    };
    let end = start.checked_add(len)?;
    let element = Element {
        tag,
        whole: der.get(..end)?,
        content: der.get(start..end)?,
    };
    Some((element, der.get(end..)?))
}

/// Every element of a constructed element's contents.
pub(crate) fn elements(mut content: &[u8]) -> Option<Vec<Element<'_>>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (element, rest) = split(content)?;
        out.push(element);
        content = rest;
    }
    Some(out)
}

/// A DER element: tag, definite length, contents.
pub(crate) fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; len];
            let encoded = encode(0x04, &content);
            let (element, rest) = split(&encoded).unwrap();
            assert_eq!(element.content, content.as_slice());
            assert_eq!(element.whole, encoded.as_slice());
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn truncated_input_is_none() {
        assert!(split(&[0x30, 0x05, 0x01]).is_none());
        assert!(split(&[0x30]).is_none());
        assert!(elements(&[0x02, 0x01]).is_none());
    }
}
