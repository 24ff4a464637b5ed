//! Helpers take log data as input: whatever the text, they return a value or an error and
//! never panic.

use cs_expr_helpers::{json, kv, net, strings, url, xml};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_helpers(doc in r#"[\[\]{}":,a-c0-9\\ .u-]{0,40}"#, path in r"[a-c\[\]0-9.]{0,10}") {
        let _ = json::json_extract(&doc, &path);
        let _ = json::json_extract_unescape(&doc, &[path.as_str()]);
        let _ = json::json_extract_decoded(&doc, &path, json::JsonKind::Array);
        let _ = json::unescape(doc.as_bytes());
    }

    #[test]
    fn xml_helpers(doc in r#"[<>/a-c ='"\[\]@0-9!-]{0,40}"#, path in r#"[/a-c\[\]@='0-9*.()-]{0,16}"#) {
        if let Some(p) = xml::XmlPath::compile(&path) {
            let _ = xml::get_node_value(&doc, &p);
            let _ = xml::get_attribute_value(&doc, &p, "a");
        }
    }

    #[test]
    fn text_helpers(a in r"\PC{0,24}", b in r"\PC{0,6}", n in -3i64..5) {
        let _ = kv::parse_kv(&a);
        let _ = kv::parse_kv_lax(&a);
        let _ = url::parse_uri(&a);
        let _ = url::parse_query(&a);
        let _ = url::query_unescape(&a);
        let _ = url::path_unescape(&a);
        let _ = strings::glob_match(&b, &a);
        let _ = strings::split_n(&a, &b, n);
        let _ = strings::split_after_n(&a, &b, n);
        let _ = strings::replace(&a, &b, "x", n);
        let _ = strings::b64_decode(&a);
        let _ = strings::atof(&a);
        let _ = net::ip_in_range(&a, &b);
        let _ = net::ip_to_range(&a, &b);
        let _ = cs_expr::compile_go_regex(&a);
    }
}
