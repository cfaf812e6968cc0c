use super::*;

#[test]
fn histograms_are_cumulative_and_counted() {
    let m = Metrics::default();
    m.observe_request("GET", "/", 200, Duration::from_millis(3));
    m.observe_request("GET", "/", 200, Duration::from_millis(300));
    let text = m.render(&Gauges::default());
    assert!(
        text.contains(r#"techkraft_http_requests_total{method="GET",route="/",status="200"} 2"#),
        "{text}"
    );
    assert!(text.contains(
        r#"techkraft_http_request_duration_seconds_bucket{method="GET",route="/",status="200",le="0.005"} 1"#
    ));
    assert!(text.contains(
        r#"techkraft_http_request_duration_seconds_bucket{method="GET",route="/",status="200",le="0.5"} 2"#
    ));
    assert!(
        text.contains(
            r#"techkraft_http_request_duration_seconds_count{method="GET",route="/",status="200"} 2"#
        )
    );
}

#[test]
fn booking_outcomes_are_counted_by_label() {
    let m = Metrics::default();
    m.record_booking(BookingOutcome::SoldOut);
    m.record_booking(BookingOutcome::SoldOut);
    let text = m.render(&Gauges::default());
    assert!(text.contains("techkraft_bookings_total{outcome=\"sold_out\"} 2\n"), "{text}");
    assert!(text.contains("techkraft_bookings_total{outcome=\"confirmed\"} 0\n"));
}

#[test]
fn odd_methods_share_one_label() {
    let m = Metrics::default();
    for i in 0..100 {
        m.observe_request(&format!("X{i}"), "unmatched", 400, Duration::from_millis(1));
    }
    m.observe_request("GET", "/", 200, Duration::from_millis(1));
    let text = m.render(&Gauges::default());
    assert!(
        text.contains(r#"techkraft_http_requests_total{method="other",route="unmatched",status="400"} 100"#),
        "{text}"
    );
    assert!(!text.contains("X1"));
}

#[test]
fn background_work_is_counted_by_outcome_from_zero() {
    let m = Metrics::default();
    let text = m.render(&Gauges::default());
    for series in [
        "techkraft_emails_total{outcome=\"sent\"} 0",
        "techkraft_emails_total{outcome=\"given_up\"} 0",
        "techkraft_refunds_total{outcome=\"paid\"} 0",
        "techkraft_check_ins_total{outcome=\"forged\"} 0",
        "techkraft_backups_total{outcome=\"failed\"} 0",
    ] {
        assert!(text.contains(&format!("{series}\n")), "{series} in\n{text}");
    }
    m.record_email(EmailOutcome::Failed);
    m.record_email(EmailOutcome::Sent);
    m.record_refund(false);
    m.record_check_in(CheckInOutcome::Admitted);
    m.record_check_in(CheckInOutcome::AlreadyIn);
    m.record_check_in(CheckInOutcome::AlreadyIn);
    let text = m.render(&Gauges::default());
    for series in [
        "techkraft_emails_total{outcome=\"failed\"} 1",
        "techkraft_emails_total{outcome=\"sent\"} 1",
        "techkraft_refunds_total{outcome=\"failed\"} 1",
        "techkraft_check_ins_total{outcome=\"admitted\"} 1",
        "techkraft_check_ins_total{outcome=\"already_in\"} 2",
    ] {
        assert!(text.contains(&format!("{series}\n")), "{series} in\n{text}");
    }
}

#[test]
fn scrape_time_figures_are_shown_when_known_and_absent_when_not() {
    let m = Metrics::default();
    let known = Gauges {
        seats_available: vec![("vip".into(), 98)],
        pool_connections: 3,
        pool_idle: 1,
        pool_max: 8,
        ready: true,
        work: Some(Work {
            refunds_owed: 2,
            refund_oldest_owed_secs: 75,
            emails_pending: 4,
            emails_given_up: 1,
            charge_checks: 3,
            charge_check_oldest_secs: 40,
        }),
        backup: Some((1_800_000_000, Duration::from_secs(3600))),
    };
    let text = m.render(&known);
    for series in [
        "techkraft_seats_available{tier=\"vip\"} 98",
        "techkraft_db_pool_connections{state=\"in_use\"} 2",
        "techkraft_db_pool_connections{state=\"max\"} 8",
        "techkraft_ready 1",
        "techkraft_refunds_owed 2",
        "techkraft_refund_oldest_owed_seconds 75",
        "techkraft_emails_pending 4",
        "techkraft_emails_given_up 1",
        "techkraft_charge_checks_pending 3",
        "techkraft_charge_check_oldest_seconds 40",
        "techkraft_backup_newest_timestamp_seconds 1800000000",
        "techkraft_backup_interval_seconds 3600",
    ] {
        assert!(text.contains(&format!("{series}\n")), "{series} in\n{text}");
    }
    assert!(text.contains(&format!("techkraft_build_info{{version=\"{}\"}} 1\n", env!("CARGO_PKG_VERSION"))));
    let text = m.render(&Gauges::default());
    assert!(text.contains("techkraft_ready 0\n"), "{text}");
    for absent in ["techkraft_seats_available", "techkraft_refunds_owed", "techkraft_backup_interval_seconds"]
    {
        assert!(!text.contains(absent), "{absent} without a figure:\n{text}");
    }
}
