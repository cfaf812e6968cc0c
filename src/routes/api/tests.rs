//! Unit tests of the parent module.

use super::*;

fn parse(body: &str) -> Result<BookingRequest, (u16, String)> {
    parse_request(body.as_bytes(), None, 10).map_err(|e| (e.status.as_u16(), e.message))
}

#[test]
fn the_original_checks_come_first() {
    assert_eq!(
        parse(r#"{"quantity": 1, "userId": "u"}"#).unwrap_err(),
        (400, "Missing required fields".into())
    );
    assert_eq!(parse(r#"{"ticketTypeId": "vip", "quantity": null, "userId": "u"}"#).unwrap_err().0, 400);
    assert_eq!(
        parse(r#"{"ticketTypeId": "vip", "quantity": -2, "userId": "u"}"#).unwrap_err(),
        (400, "Quantity must be positive".into())
    );
    assert_eq!(parse(r#"{"ticketTypeId": "vip", "quantity": 0, "userId": "u"}"#).unwrap_err().0, 400);
    assert_eq!(
        parse(r#"{"ticketTypeId": "nope", "quantity": 1, "userId": "u"}"#).unwrap().tier.as_str(),
        "nope",
        "existence is the database's answer (404 later)"
    );
}

#[test]
fn wrong_types_and_sizes_are_unprocessable() {
    for body in [
        r#"{"ticketTypeId": "vip", "quantity": 1.5, "userId": "u"}"#,
        r#"{"ticketTypeId": "vip", "quantity": "2", "userId": "u"}"#,
        r#"{"ticketTypeId": "vip", "quantity": 11, "userId": "u"}"#,
        r#"{"ticketTypeId": "vip", "quantity": 18446744073709551615, "userId": "u"}"#,
        r#"{"ticketTypeId": 7, "quantity": 1, "userId": "u"}"#,
        r#"{"ticketTypeId": "vip", "quantity": 1, "userId": {"a": 1}}"#,
        r#"{"ticketTypeId": "vip", "quantity": 1, "userId": 5}"#,
        r#"{"ticketTypeId": "vip", "quantity": 1, "userId": true}"#,
        r#"{"ticketTypeId": "vip", "quantity": 1, "userId": ["u"]}"#,
        r#"[1, 2]"#,
        r#"{"ticketTypeId": "vip", "#,
    ] {
        assert_eq!(parse(body).unwrap_err().0, 422, "{body}");
    }
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(parse(&deep).unwrap_err().0, 422);
}
