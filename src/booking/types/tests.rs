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

#[test]
fn names_blank_to_the_eye_or_with_hidden_characters_are_refused() {
    for bad in [
        "\u{3164}",
        "\u{2800}",
        "\u{00AD}",
        "Ada\u{2062}Lovelace",
        "Ada\u{E0041}",
        "Ada\u{180E}Lovelace",
        "Ada\u{034F}",
        "Ada\u{FFF9}Lovelace\u{FFFB}",
        "Ada\u{2028}Lovelace",
        "\u{115F}\u{1160}",
        " \u{3000} ",
    ] {
        assert_eq!(CustomerName::parse(bad).expect_err(bad).field, "name", "{bad:?}");
    }
    for good in ["Ada Lovelace", "Zoë", "李小龍", "Ada\u{00A0}Lovelace", "O'Brien-Smith"] {
        assert!(CustomerName::parse(good).is_ok(), "{good:?}");
    }
}

#[test]
fn an_email_is_accepted_only_when_the_mailer_accepts_it() {
    for bad in [
        "a,b@example.com",
        "a\"b@example.com",
        "a(b)@example.com",
        "a;b@example.com",
        "a\\b@example.com",
        "a:b@example.com",
        "a@-.-",
        "a\u{00AD}b@example.com",
        "a..b@example.com",
        "a@[127.0.0.1]",
        "Ada <ada@example.com>",
    ] {
        assert_eq!(Email::parse(bad).expect_err(bad).field, "email", "{bad:?}");
    }
    for good in ["ada@example.com", "ada.lovelace+tickets@example.org", "josé@exämple.com"] {
        assert!(Email::parse(good).is_ok(), "{good:?}");
    }
}
