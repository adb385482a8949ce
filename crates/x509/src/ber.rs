//! BER to DER, for files that older tools write with indefinite lengths
//! (Windows PFX exports, some PKCS#7 answers). Definite lengths replace
//! indefinite ones and constructed OCTET STRINGs are flattened; primitive
//! contents are copied byte for byte, so a PFX's MAC (computed over the
//! content of its data OCTET STRING) stays valid.

use crate::error::CertError;

/// Deepest nesting accepted: real files stay far below it; a hostile file
/// cannot make the conversion recurse without bound.
const MAX_DEPTH: usize = 64;

/// Re-encodes `input` (one BER element, nothing after it) as DER lengths.
/// `what` names the source in errors.
pub fn ber_to_der(input: &[u8], what: &str) -> Result<Vec<u8>, CertError> {
    let mut reader = Reader {
        data: input,
        pos: 0,
    };
    let element = reader
        .element(0)
        .map_err(|reason| truncated(what, reason))?;
    if reader.pos != input.len() {
        return Err(CertError::BadInput {
            what: what.into(),
            reason: format!(
                "{} unexpected bytes after the end of the ASN.1 structure",
                input.len() - reader.pos
            ),
        });
    }
    let mut out = Vec::with_capacity(input.len());
    element.write(&mut out);
    Ok(out)
}

/// Does `input` use BER-only encodings (indefinite lengths)?
pub fn is_indefinite(input: &[u8]) -> bool {
    input.len() > 1 && input[0] & 0x20 != 0 && input.get(1) == Some(&0x80)
}

fn truncated(what: &str, reason: String) -> CertError {
    CertError::Truncated {
        what: what.into(),
        reason,
    }
}

enum Content {
    Primitive(Vec<u8>),
    Constructed(Vec<Element>),
}

struct Element {
    tag: Vec<u8>,
    content: Content,
}

impl Element {
    fn write(&self, out: &mut Vec<u8>) {
        let mut body = Vec::new();
        match &self.content {
            Content::Primitive(bytes) => body.extend_from_slice(bytes),
            Content::Constructed(children) => {
                for child in children {
                    child.write(&mut body);
                }
            }
        }
        out.extend_from_slice(&self.tag);
        write_length(out, body.len());
        out.extend_from_slice(&body);
    }
}

fn write_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len() - 1);
    out.push(0x80 | (bytes.len() - first) as u8);
    out.extend_from_slice(&bytes[first..]);
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or_else(|| format!("the data ends early, at byte {}", self.pos))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, len: usize) -> Result<&[u8], String> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.data.len())
            .ok_or_else(|| {
                format!(
                    "an element at byte {} announces {len} bytes but only {} remain",
                    self.pos,
                    self.data.len() - self.pos
                )
            })?;
        let slice = &self.data[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn at_end_of_contents(&self) -> bool {
        self.data.get(self.pos) == Some(&0) && self.data.get(self.pos + 1) == Some(&0)
    }

    fn element(&mut self, depth: usize) -> Result<Element, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        let start = self.pos;
        let first = self.byte()?;
        let mut tag = vec![first];
        if first & 0x1f == 0x1f {
            loop {
                let b = self.byte()?;
                tag.push(b);
                if b & 0x80 == 0 {
                    break;
                }
                if tag.len() > 6 {
                    return Err(format!("an oversized tag at byte {start}"));
                }
            }
        }
        let constructed = first & 0x20 != 0;
        let length = self.length()?;
        let children = match (constructed, length) {
            (false, None) => {
                return Err(format!(
                    "a primitive element at byte {start} has an indefinite length"
                ))
            }
            (false, Some(len)) => {
                let bytes = self.take(len)?.to_vec();
                return Ok(Element {
                    tag,
                    content: Content::Primitive(bytes),
                });
            }
            (true, Some(len)) => {
                let inner = self.take(len)?;
                let mut sub = Reader {
                    data: inner,
                    pos: 0,
                };
                let mut children = Vec::new();
                while sub.pos < inner.len() {
                    children.push(sub.element(depth + 1)?);
                }
                children
            }
            (true, None) => {
                let mut children = Vec::new();
                loop {
                    if self.pos >= self.data.len() {
                        return Err(format!(
                            "the element starting at byte {start} has no end-of-contents marker"
                        ));
                    }
                    if self.at_end_of_contents() {
                        self.pos += 2;
                        break;
                    }
                    children.push(self.element(depth + 1)?);
                }
                children
            }
        };
        // A constructed OCTET STRING (universal tag 4) becomes one
        // primitive OCTET STRING holding the concatenated pieces.
        if tag == [0x24] {
            let mut bytes = Vec::new();
            flatten_octets(&children, &mut bytes)?;
            return Ok(Element {
                tag: vec![0x04],
                content: Content::Primitive(bytes),
            });
        }
        Ok(Element {
            tag,
            content: Content::Constructed(children),
        })
    }

    fn length(&mut self) -> Result<Option<usize>, String> {
        let first = self.byte()?;
        if first < 0x80 {
            return Ok(Some(usize::from(first)));
        }
        if first == 0x80 {
            return Ok(None);
        }
        let count = usize::from(first & 0x7f);
        if count > 4 {
            return Err(format!("a length of {count} bytes at byte {}", self.pos));
        }
        let mut len = 0usize;
        for _ in 0..count {
            len = (len << 8) | usize::from(self.byte()?);
        }
        Ok(Some(len))
    }
}

fn flatten_octets(children: &[Element], out: &mut Vec<u8>) -> Result<(), String> {
    for child in children {
        match (&child.tag[..], &child.content) {
            ([0x04], Content::Primitive(bytes)) => out.extend_from_slice(bytes),
            _ => {
                return Err(
                    "a constructed OCTET STRING holds something else than OCTET STRINGs".into(),
                )
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indefinite_lengths_and_chunked_octets_become_der() {
        // SEQUENCE (indefinite) { OCTET STRING constructed (indefinite) { "ab", "c" }, INTEGER 5 }
        let ber = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c', 0x00, 0x00, 0x02,
            0x01, 0x05, 0x00, 0x00,
        ];
        let der = ber_to_der(&ber, "test").unwrap();
        assert_eq!(
            der,
            [0x30, 0x08, 0x04, 0x03, b'a', b'b', b'c', 0x02, 0x01, 0x05]
        );
        // DER stays DER.
        assert_eq!(ber_to_der(&der, "test").unwrap(), der);
    }

    #[test]
    fn truncation_is_reported() {
        let err = ber_to_der(&[0x30, 0x80, 0x02, 0x01], "x.pfx").unwrap_err();
        assert!(matches!(err, CertError::Truncated { .. }), "{err}");
        let err = ber_to_der(&[0x30, 0x05, 0x02, 0x01], "x.pfx").unwrap_err();
        assert!(matches!(err, CertError::Truncated { .. }), "{err}");
    }
}
