use super::*;

/// The place of the error `toml` reports for `text`: what the parser
/// really says, not a guess of its offsets.
fn error_place(text: &str) -> (Place, String) {
    let error = text
        .parse::<toml::Table>()
        .expect_err("the text is meant to be broken");
    let span = error.span().expect("toml gives syntax errors a span");
    (locate(text, span.start), error.message().to_string())
}

/// (broken text, line to report, field to report, line the parser stopped on)
const BROKEN: &[(&str, usize, &str, usize)] = &[
    // Unclosed array: noticed at the next key, belongs to the array's key.
    (
        "[organization]\naccepted_domains = [\"contoso.com\"\nissuer = \"public\"\n",
        2,
        "organization.accepted_domains",
        3,
    ),
    // Unclosed array at the end of the file.
    (
        "[organization]\naccepted_domains = [\n  \"contoso.com\",\n",
        2,
        "organization.accepted_domains",
        4,
    ),
    // Missing comma inside a multi-line array.
    (
        "[namespaces]\nclient_access = [\n  \"a = b\",\n  \"c\" \"d\",\n]\n",
        2,
        "namespaces.client_access",
        4,
    ),
    // Unclosed basic string.
    (
        "[organization]\nname = \"Contoso\nissuer = \"public\"\n",
        2,
        "organization.name",
        2,
    ),
    // Unclosed literal string.
    (
        "[[server]]\nname = 'EX1\nfqdn = \"ex1.contoso.com\"\n",
        2,
        "server[1].name",
        2,
    ),
    // Unclosed multi-line string: noticed at the end of the file.
    (
        "[organization]\nname = \"\"\"Contoso\nissuer = \"public\"\n",
        2,
        "organization.name",
        4,
    ),
    // Missing `=`.
    (
        "[organization]\nissuer \"public\"\nname = \"x\"\n",
        2,
        "organization.issuer",
        2,
    ),
    // Missing value.
    ("[policy]\nmax_names =\n", 2, "policy.max_names", 2),
    // Duplicate key: the second one.
    (
        "[organization]\nissuer = \"public\"\nissuer = \"private\"\n",
        3,
        "organization.issuer",
        3,
    ),
    // Duplicate table.
    (
        "[organization]\nissuer = \"public\"\n\n[organization]\nname = \"x\"\n",
        4,
        "organization",
        4,
    ),
    // Table header without its bracket.
    ("[organization\nissuer = \"public\"\n", 1, "organization", 1),
    (
        "[[server]]\nname = \"a\"\n[[server]\nname = \"b\"\n",
        3,
        "server[2]",
        3,
    ),
    // Unclosed array inside an inline table.
    (
        "[organization]\nx = { a = 1, b = [1,\n2\n}\n",
        2,
        "organization.x",
        4,
    ),
    // Text after a value.
    (
        "[policy]\nmax_names = 100 names\n",
        2,
        "policy.max_names",
        2,
    ),
];

#[test]
fn syntax_errors_belong_to_the_construct_left_open() {
    for (text, line, field, stopped) in BROKEN {
        let (place, message) = error_place(text);
        let (start, path) = place.syntax();
        assert_eq!(
            (start.line, dotted(path, 1).as_str(), place.at.line),
            (*line, *field, *stopped),
            "{text:?}: {message}: {place:?}"
        );
    }
}

#[test]
fn values_keys_and_tables_are_named() {
    let text = "[organization]\nissuer = \"public\"\n\n[[server]]\nname = \"a\"\n\n[[server]]\nname = \"b\" # a = b\nsite = 3 # here\n\n[namespaces.autodiscover_by_domain]\n\"fabrikam.com\" = \"srv\"\n";
    let at = |needle: &str| {
        let place = locate(text, text.find(needle).expect("needle"));
        (place.at.line, place.at.column, dotted(&place.path, 1))
    };
    assert_eq!(at("3 #"), (9, 8, "server[2].site".to_string()));
    assert_eq!(at("\"public\""), (2, 10, "organization.issuer".to_string()));
    assert_eq!(at("[organization]"), (1, 1, "organization".to_string()));
    assert_eq!(
        at("[[server]]\nname = \"b"),
        (7, 1, "server[2]".to_string())
    );
    assert_eq!(
        at("\"srv\""),
        (
            12,
            18,
            "namespaces.autodiscover_by_domain.\"fabrikam.com\"".to_string()
        )
    );
    let place = locate(text, text.find("site = 3").expect("site"));
    assert_eq!(place.table_header.map(|h| h.line), Some(7));
}

#[test]
fn multi_line_arrays_keep_their_key() {
    let text = "[namespaces]\nclient_access = [\n  \"a\",\n  # x = y\n  7,\n]\n";
    let place = locate(text, text.find('7').expect("7"));
    assert_eq!(place.at.line, 5);
    assert_eq!(dotted(&place.path, 1), "namespaces.client_access");
}

#[test]
fn nested_arrays_of_tables_count_per_parent() {
    let text = "[[a]]\n[[a.b]]\n[[a.b]]\n[[a]]\n[[a.b]]\nx = 1\n";
    let place = locate(text, text.find("x = 1").expect("x"));
    assert_eq!(dotted(&place.path, 0), "a[1].b[0].x");
}

#[test]
fn offsets_past_the_end_or_inside_characters_are_safe() {
    let text = "name = \"Zürich\"\n";
    let inside = text.find('ü').expect("ü") + 1;
    assert_eq!(locate(text, inside).at.column, 10);
    assert_eq!(locate(text, 10_000).at.line, 2);
    assert_eq!(locate("", 0).path, Vec::new());
}

/// Found by the toml_locate fuzz target: an offset on the second bracket
/// of `]]` made the scanner step past it, onto the next header.
#[test]
fn an_offset_inside_a_closing_double_bracket_stays_in_that_header() {
    for text in ["[[a]][", "[[a]]\n[b]", "x = 1\n[[a]][[b]]"] {
        let offset = text.find("]]").expect("a closing ]]") + 1;
        let place = locate(text, offset);
        let (start, _) = place.syntax();
        assert!(
            start.offset <= place.at.offset,
            "{text:?} at {offset}: the construct opens at {}",
            start.offset
        );
        assert_eq!(start.offset, text.find("[[").expect("an opening [["));
    }
}
