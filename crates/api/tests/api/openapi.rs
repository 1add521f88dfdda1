//! openapi.yaml and the server's route table describe the same endpoints.

use std::collections::BTreeSet;

use crate::helpers::SPEC;

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let served: BTreeSet<String> = phonereg_api::routes::table()
        .iter()
        .flat_map(|e| {
            e.routes
                .iter()
                .map(move |(m, _)| format!("{} {}", m, e.path))
        })
        .collect();
    let documented: BTreeSet<String> = SPEC["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let missing: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in openapi.yaml: {undocumented:?}"
    );
    assert!(
        missing.is_empty(),
        "in openapi.yaml but not served: {missing:?}"
    );
}

#[test]
fn spec_is_openapi_3_1() {
    assert_eq!(SPEC["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
}
