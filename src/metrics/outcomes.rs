//! The closed sets of `outcome` label values.

/// Declares an outcome enum with its label values, in order.
macro_rules! outcomes {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The `outcome` label value.
            pub fn label(self) -> &'static str {
                match self {
                    $(Self::$variant => $label),+
                }
            }

            /// Every label value, in order.
            pub fn labels() -> Vec<&'static str> {
                vec![$($label),+]
            }
        }
    };
}

outcomes! {
    /// How a booking attempt ended, as counted in `techkraft_bookings_total{outcome=…}`. Each
    /// attempt (a form or API submit that reached the booking code) counts once.
    BookingOutcome {
        Confirmed => "confirmed",
        SoldOut => "sold_out",
        PaymentFailed => "payment_failed",
        /// Refused before anything was reserved: a field (422), an unknown tier, a reused key.
        Invalid => "invalid",
        /// A repeated idempotency key, answered with the first attempt's outcome.
        Replayed => "replayed",
        Refunded => "refunded",
        Error => "error",
    }
}

outcomes! {
    /// One attempt to send an email: `techkraft_emails_total{outcome=…}`.
    EmailOutcome {
        Sent => "sent",
        /// Failed; it will be tried again.
        Failed => "failed",
        /// Failed for the last time (`EMAIL_MAX_ATTEMPTS`): it waits for "send again".
        GivenUp => "given_up",
    }
}

outcomes! {
    /// What the door said to a code: `techkraft_check_ins_total{outcome=…}`.
    CheckInOutcome {
        Admitted => "admitted",
        AlreadyIn => "already_in",
        /// The booking was voided or refunded.
        NotValid => "not_valid",
        /// Signed by us but not on record.
        Unknown => "unknown",
        Forged => "forged",
        Malformed => "malformed",
    }
}
