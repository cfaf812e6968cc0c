//! The one schema both backends share (written by hand: `diesel print-schema` would emit
//! backend-specific types, and both migrations are kept to these common SQL types).

diesel::table! {
    ticket_tiers (id) {
        id -> Text,
        name -> Text,
        price_cents -> BigInt,
        capacity -> Integer,
        available -> Integer,
        withheld -> Integer,
        sort_order -> Integer,
        version -> BigInt,
    }
}

diesel::table! {
    bookings (id) {
        id -> Text,
        reference -> Text,
        tier_id -> Text,
        quantity -> Integer,
        unit_price_cents -> BigInt,
        total_cents -> BigInt,
        customer_name -> Text,
        customer_email -> Text,
        user_id -> Nullable<Text>,
        status -> Text,
        idempotency_key -> Nullable<Text>,
        transaction_id -> Nullable<Text>,
        failure_reason -> Nullable<Text>,
        hold_expires_at -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> BigInt,
        actor -> Text,
        action -> Text,
        tier_id -> Nullable<Text>,
        before -> Text,
        after -> Text,
    }
}

diesel::joinable!(bookings -> ticket_tiers (tier_id));
diesel::allow_tables_to_appear_in_same_query!(ticket_tiers, bookings, audit_log, refunds, staff_sessions);

diesel::table! {
    refunds (booking_id) {
        booking_id -> Text,
        charge_id -> Text,
        amount_cents -> BigInt,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        last_error -> Nullable<Text>,
        refund_id -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    staff_sessions (id) {
        id -> Text,
        role -> Text,
        csrf -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(refunds -> bookings (booking_id));

diesel::table! {
    app_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    tickets (code) {
        code -> Text,
        booking_id -> Text,
        seat -> Integer,
        checked_in_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    email_outbox (id) {
        id -> Text,
        booking_id -> Text,
        kind -> Text,
        recipient -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::joinable!(tickets -> bookings (booking_id));
diesel::joinable!(email_outbox -> bookings (booking_id));
diesel::allow_tables_to_appear_in_same_query!(tickets, bookings);
diesel::allow_tables_to_appear_in_same_query!(tickets, ticket_tiers);
diesel::allow_tables_to_appear_in_same_query!(email_outbox, bookings);

diesel::table! {
    charge_checks (booking_id) {
        booking_id -> Text,
        booked_at -> BigInt,
    }
}

diesel::joinable!(charge_checks -> bookings (booking_id));
diesel::allow_tables_to_appear_in_same_query!(charge_checks, bookings);

diesel::table! {
    hold_deadlines (expires_at, booking_id) {
        expires_at -> BigInt,
        booking_id -> Text,
    }
}

diesel::joinable!(hold_deadlines -> bookings (booking_id));
diesel::allow_tables_to_appear_in_same_query!(hold_deadlines, bookings);

diesel::table! {
    ticket_resends (booking_id) {
        booking_id -> Text,
        last_at -> BigInt,
        day_started -> BigInt,
        day_count -> Integer,
    }
}

diesel::joinable!(ticket_resends -> bookings (booking_id));
diesel::allow_tables_to_appear_in_same_query!(ticket_resends, bookings);

diesel::table! {
    queue_line (id) {
        id -> Integer,
        line_id -> Text,
        joined -> BigInt,
        opened_at -> Nullable<BigInt>,
        early -> Nullable<BigInt>,
        seed -> Nullable<BigInt>,
        admitted -> BigInt,
        credit_from_us -> BigInt,
        rate_per_min -> BigInt,
        configured_rate -> BigInt,
        paused_at -> Nullable<BigInt>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    queue_advances (admitted) {
        admitted -> BigInt,
        at -> BigInt,
    }
}

diesel::table! {
    queue_done (position) {
        position -> BigInt,
        at -> BigInt,
    }
}
