//! The waiting room at the box office and in the metrics (SPEC §13): the admin sees the line
//! and can pause admissions or change the rate (CSRF-checked, audit-logged); a sold-out sale
//! says so to everyone in line.

use std::time::Duration;

use crate::common::queue::{Fan, admitted_and_waiting, line, open_sale, position};
use crate::common::{Backend, eventually};

both_backends!(the_admin_sees_the_line_and_pauses_it_or_changes_its_rate, a_sold_out_sale_says_so_in_line);

async fn the_admin_sees_the_line_and_pauses_it_or_changes_its_rate(backend: Backend) {
    let app = open_sale(backend, &[]).await;
    let (mut first, mut second, mut third) = (Fan::new(), Fan::new(), Fan::new());
    assert_eq!(first.poll(&app).await["state"], "admitted");
    assert_eq!(position(&second.poll(&app).await), Some(2));
    assert_eq!(position(&third.poll(&app).await), Some(3));

    let admin = app.sign_in().await;
    let page = app.get_with("/admin", &[("Cookie", &admin.cookie)]).await;
    assert!(
        page.body.contains("Waiting room") && page.body.contains(r#"id="queue-state">admitting"#),
        "{}",
        page.body
    );
    let figures = page.body.split(r#"id="queue-figures""#).nth(1).expect("the line's figures");
    let cells: Vec<&str> =
        figures.split(r#"<td class="num">"#).skip(1).map(|c| c.split('<').next().unwrap()).collect();
    assert_eq!(
        cells[..4],
        ["2", "1", "1 (1,000)", "1"],
        "waiting, admitted, shopping (max), rate: {figures}"
    );
    let metrics = app.get("/metrics").await.body;
    assert!(metrics.contains("techkraft_queue_waiting 2\n"), "{metrics}");
    assert!(
        metrics.contains("techkraft_queue_admitted_total 1\n")
            && metrics.contains("# TYPE techkraft_queue_admitted_total counter")
    );

    // No CSRF token: refused, nothing changes.
    let forged =
        app.admin_post(&admin, "/admin/queue/pause", &[("paused", "yes"), ("csrf_token", "wrong")]).await;
    assert_eq!(forged.status, 403);
    assert!(line(&app).unwrap().paused_at.is_none());

    assert_eq!(app.admin_post(&admin, "/admin/queue/pause", &[("paused", "yes")]).await.status, 303);
    assert!(line(&app).unwrap().paused_at.is_some());
    let poll = second.poll(&app).await;
    assert_eq!(
        (poll["state"].as_str(), poll["estimatedWaitSeconds"].is_null()),
        (Some("waiting"), true),
        "{poll}"
    );
    let page = second.get(&app, "/queue").await;
    assert!(page.body.contains("paused admissions"), "{}", page.body);
    assert!(app.get("/metrics").await.body.contains("techkraft_queue_paused 1\n"));

    let bad = app.admin_post(&admin, "/admin/queue/rate", &[("rate", "0")]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("from 1 to 1,000,000"), "{}", bad.body);
    assert_eq!(app.admin_post(&admin, "/admin/queue/rate", &[("rate", "6000")]).await.status, 303);
    assert_eq!(line(&app).unwrap().rate_per_min, 6000);
    // Paused, even a fast rate lets nobody in.
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(second.poll(&app).await["state"], "waiting");

    assert_eq!(app.admin_post(&admin, "/admin/queue/pause", &[("paused", "no")]).await.status, 303);
    eventually("both fans let in", Duration::from_secs(10), || line(&app).is_some_and(|l| l.admitted == 3))
        .await;
    let mut admitted = 0;
    while admitted < 2 {
        admitted = [second.poll(&app).await, third.poll(&app).await]
            .iter()
            .filter(|p| p["state"] == "admitted")
            .count();
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }

    let page = app.get_with("/admin", &[("Cookie", &admin.cookie)]).await;
    let audit = page.body.split("audit-heading").last().expect("the audit log");
    for entry in ["queue admissions", "admitting", "paused", "queue rate", "1/min", "6000/min"] {
        assert!(audit.contains(entry), "audit log names {entry:?}: {audit}");
    }
}

async fn a_sold_out_sale_says_so_in_line(backend: Backend) {
    let app = open_sale(backend, &[]).await;
    let (_first, mut second) = admitted_and_waiting(&app).await;
    app.set_available("vip", 0);
    let mut shown = second.get(&app, "/queue").await;
    while !shown.body.contains("Already sold out") {
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        shown = second.get(&app, "/queue").await;
    }
    assert!(shown.body.contains("<li>VIP</li>"), "{}", shown.body);
    for tier in ["front-row", "general"] {
        app.set_available(tier, 0);
    }
    let mut poll = second.poll(&app).await;
    while poll["state"] != "sold-out" {
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        poll = second.poll(&app).await;
    }
    assert_eq!(poll["position"], 2, "{poll}");
    let page = second.get(&app, "/queue").await;
    assert!(page.body.contains("Sold out") && page.body.contains("number 2 in line"), "{}", page.body);
    let mut newcomer = Fan::new();
    assert_eq!(newcomer.poll(&app).await["state"], "sold-out");
    assert!(newcomer.cookie("tk_queue").is_none(), "nobody joins a sold-out line");
    assert_eq!(line(&app).unwrap().joined, 2);
}
