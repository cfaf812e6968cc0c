//! Unit tests of the parent module.

use super::*;

#[test]
fn quantity_accepts_one_to_max_and_names_the_field_otherwise() {
    assert_eq!(Quantity::parse("1", 10).unwrap().get(), 1);
    assert_eq!(Quantity::parse(" 10 ", 10).unwrap().get(), 10);
    for bad in ["0", "-1", "11", "99999999999999999999999", "two", "1.5", "", "1e3", "0x10"] {
        let err = Quantity::parse(bad, 10).expect_err(bad);
        assert_eq!(err.field, "quantity", "{bad}");
    }
    assert!(Quantity::parse("99999999999999999999999", 10).unwrap_err().message.contains("at most 10"));
    assert!(Quantity::parse("-99999999999999999999999", 10).unwrap_err().message.contains("at least 1"));
}

#[test]
fn names_are_trimmed_and_bounded() {
    assert_eq!(CustomerName::parse("  Ada Lovelace ").unwrap().as_str(), "Ada Lovelace");
    assert!(CustomerName::parse("   ").is_err());
    assert!(CustomerName::parse(&"x".repeat(100)).is_ok());
    assert!(CustomerName::parse(&"é".repeat(101)).is_err());
    assert!(CustomerName::parse("a\u{0}b").is_err());
}

#[test]
fn invisible_and_direction_characters_are_refused_by_field() {
    for bad in ["Admin\u{202E}gnp.exe", "Ada\u{200B}", "\u{FEFF}Ada", "A\u{2066}da", "A\u{061C}da"] {
        assert_eq!(CustomerName::parse(bad).expect_err(bad).field, "name", "{bad:?}");
        assert_eq!(Email::parse(&format!("{bad}@example.com")).expect_err(bad).field, "email", "{bad:?}");
    }
}

#[test]
fn names_are_stored_nfc_normalized() {
    let decomposed = "Jose\u{0301}";
    assert_eq!(CustomerName::parse(decomposed).unwrap().as_str(), "Jos\u{00E9}");
}

#[test]
fn emails_must_have_the_usual_shape() {
    for good in ["a@b.co", "ada.lovelace+tickets@example.org"] {
        assert!(Email::parse(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "ada@.com",
        "a b@example.com",
        "ada@exa mple.com",
        "a@b@c.com",
    ] {
        assert_eq!(Email::parse(bad).expect_err(bad).field, "email", "{bad}");
    }
}

#[test]
fn tier_ids_are_short_slugs() {
    assert_eq!(TierId::parse("front-row").unwrap().as_str(), "front-row");
    assert!(TierId::parse("").is_err());
    assert!(TierId::parse("VIP'; DROP TABLE").is_err());
    assert!(TierId::parse(&"a".repeat(41)).is_err());
}

#[test]
fn references_are_readable_and_round_trip() {
    for _ in 0..200 {
        let r = Reference::generate();
        let s = r.as_str();
        assert_eq!(s.len(), "TK-XXXX-XXXX-XX".len(), "{s}");
        assert!(!s[3..].contains(['0', 'O', '1', 'I']), "{s}");
        assert_eq!(Reference::parse(&s.to_lowercase()), Some(r.clone()));
    }
    assert_eq!(Reference::parse("TK-0000-0000-00"), None);
    assert_eq!(Reference::parse("nonsense"), None);
}

#[test]
fn idempotency_keys_are_bounded_visible_ascii() {
    assert!(IdempotencyKey::parse(IdempotencyKey::generate().as_str()).is_ok());
    assert!(IdempotencyKey::parse("short").is_err());
    assert!(IdempotencyKey::parse(&"k".repeat(101)).is_err());
    assert!(IdempotencyKey::parse("has a space in it").is_err());
}
