//! Properties of the AWS helpers over arbitrary input: JSONPath compilation and
//! selection and the `$util` decoders never panic, and the codecs round-trip.

use gateway_mapping_vtl::aws::{Input, InputData, Util};
use gateway_mapping_vtl::jsonpath::{JsonPath, Selection};
use gateway_mapping_vtl::util;
use gateway_mapping_vtl::{HostObject, Value};
use proptest::prelude::*;

/// Strings made mostly of JSONPath's own characters, so that generated paths get
/// deep into the parser instead of failing on the first character.
fn path_like() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "$",
        "@",
        ".",
        "..",
        "*",
        "[",
        "]",
        "[*]",
        "[0]",
        "[-1]",
        "[1:3]",
        "[:2]",
        "[-2:]",
        "[0,2]",
        "['a']",
        "[\"b c\"]",
        "['a','b']",
        "[?(",
        ")]",
        "@.a",
        "$.b",
        " < ",
        " <= ",
        " == ",
        " != ",
        " > ",
        " >= ",
        " =~ /a.*/i",
        " && ",
        " || ",
        "!",
        "(",
        ")",
        "'x'",
        "\"y\"",
        "1",
        "-2.5",
        "1e3",
        "true",
        "false",
        "null",
        "a",
        "b",
        "c",
        "length()",
        ",",
        ":",
        "\\",
        "'",
        "\"",
        " ",
        "é",
        "/",
    ]);
    prop::collection::vec(pieces, 0..16).prop_map(|parts| parts.concat())
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        (-1e6f64..1e6).prop_map(serde_json::Value::from),
        "[abc]{0,3}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::vec(("[abc]{1,2}", inner), 0..6)
                .prop_map(|members| serde_json::Value::Object(members.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn jsonpath_never_panics_on_path_like_input(path in path_like(), doc in json_value()) {
        if let Ok(compiled) = JsonPath::compile(&path) {
            let selection = compiled.select(&doc);
            prop_assert_eq!(selection.is_definite(), compiled.is_definite());
            if let Selection::Definite(_) = &selection {
                prop_assert!(compiled.is_definite());
            }
            let _ = selection.to_value();
            let _ = selection.into_json();
        }
    }

    #[test]
    fn jsonpath_never_panics_on_any_text(path in "\\PC{0,60}", doc in json_value()) {
        match JsonPath::compile(&path) {
            Ok(compiled) => {
                let _ = compiled.select(&doc);
            }
            Err(err) => {
                prop_assert!(err.position() <= path.chars().count());
                prop_assert!(!err.message().is_empty());
            }
        }
    }

    #[test]
    fn root_selects_the_document(doc in json_value()) {
        let root = JsonPath::compile("$").unwrap();
        prop_assert_eq!(root.select(&doc).into_json(), Some(doc));
    }

    #[test]
    fn decoders_never_panic(text in "\\PC{0,80}", bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        let lossy = String::from_utf8_lossy(&bytes);
        for input in [text.as_str(), lossy.as_ref()] {
            let _ = util::url_decode(input);
            let _ = util::base64_decode(input);
            let _ = util::base64_decode_strict(input);
            let _ = util::parse_json(input);
            let _ = util::escape_javascript(input);
            let _ = util::url_encode(input);
        }
    }

    #[test]
    fn url_decode_never_panics_on_escape_soup(
        text in prop::collection::vec(prop::sample::select(vec!["%", "+", "-", "0", "9", "a", "F", "g", "é", "%C3", "%A9"]), 0..20)
    ) {
        let _ = util::url_decode(&text.concat());
    }

    #[test]
    fn url_encoding_round_trips(text in "\\PC{0,60}") {
        let encoded = util::url_encode(&text);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"%+.-*_".contains(&b)));
        prop_assert_eq!(util::url_decode(&encoded).unwrap(), text);
    }

    #[test]
    fn base64_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let encoded = util::base64_encode(&bytes);
        prop_assert_eq!(encoded.len(), bytes.len().div_ceil(3) * 4);
        prop_assert_eq!(&util::base64_decode(&encoded), &bytes);
        prop_assert_eq!(&util::base64_decode_strict(&encoded).unwrap(), &bytes);
        // Lenient decoding ignores line breaks, as MIME-wrapped input has.
        let wrapped: String = encoded
            .as_bytes()
            .chunks(76)
            .map(|line| String::from_utf8_lossy(line).into_owned())
            .collect::<Vec<_>>()
            .join("\r\n");
        prop_assert_eq!(util::base64_decode(&wrapped), bytes);
    }

    #[test]
    fn escape_javascript_output_is_ascii_and_quote_safe(text in "\\PC{0,60}") {
        let escaped = util::escape_javascript(&text);
        prop_assert!(escaped.is_ascii());
        // Every quote is escaped.
        let bytes = escaped.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'"' || *b == b'\'' {
                let backslashes = bytes[..i].iter().rev().take_while(|&&c| c == b'\\').count();
                prop_assert!(backslashes % 2 == 1, "unescaped quote in {}", escaped);
            }
        }
    }

    #[test]
    fn json_string_is_valid_json(doc in json_value()) {
        let text = util::json_string(&doc);
        let reparsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        // Equal up to the integral doubles json-smart prints with a fraction.
        prop_assert_eq!(util::json_string(&reparsed), text);
    }

    #[test]
    fn input_never_panics(body in "\\PC{0,60}", path in path_like()) {
        let input = Input::new(InputData::new(body));
        let _ = input.call("json", &[Value::string(&path)]);
        let _ = input.call("path", &[Value::string(&path)]);
        let _ = input.call("params", &[Value::string(&path)]);
        let _ = input.property("body");
    }

    #[test]
    fn util_object_never_panics(method in "[a-zA-Z]{0,16}", arg in "\\PC{0,40}") {
        let util = Util;
        for known in ["escapeJavaScript", "urlEncode", "urlDecode", "base64Encode", "base64Decode", "parseJson", method.as_str()] {
            let _ = util.call(known, &[Value::string(&arg)]);
        }
    }
}
