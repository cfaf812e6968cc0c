//! The simulated clients: buyers (form and API, retries with the same key, double submits),
//! people looking their bookings up, door staff checking tickets in, and the box office. Each
//! client draws its operations from a generator seeded by the run's seed and its number, and
//! records every answer it saw.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use techkraft_tickets::clock::now_millis;

use crate::checker::{Event, Op, Via};
use crate::cluster::{Cluster, DOOR_PASSWORD};
use crate::common::{Admin, Door, TestApp};

/// Concurrent clients per run.
const CLIENTS: usize = 12;
const TIERS: [(&str, i32); 3] = [("vip", 100), ("front-row", 200), ("general", 1000)];

/// What the clients share: the staff's sessions, and what they have learned and seen.
pub struct Shared {
    admin: Admin,
    door: Door,
    history: RefCell<Vec<Event>>,
    /// References of bookings a buyer was told are confirmed.
    acknowledged: RefCell<Vec<String>>,
    /// Ticket codes learned from lookups.
    codes: RefCell<Vec<String>>,
}

impl Shared {
    /// Signs the box office and the door staff in (the sessions hold on every process).
    pub async fn signed_in(cluster: &Cluster) -> Shared {
        let mut rng = StdRng::seed_from_u64(0);
        let address = cluster.address(&mut rng).expect("a process at the start");
        let app = TestApp::attach(&address, &cluster.database_url);
        let admin = app.sign_in().await;
        let door = app.door_sign_in(DOOR_PASSWORD).await.expect("the door signs in");
        Shared {
            admin,
            door,
            history: RefCell::default(),
            acknowledged: RefCell::default(),
            codes: RefCell::default(),
        }
    }

    pub fn history(&self) -> Vec<Event> {
        self.history.borrow().clone()
    }
}

/// Runs every client until `deadline`.
pub async fn run_all(cluster: &Cluster, shared: &Shared, seed: u64, deadline: Instant) {
    let clients = (0..CLIENTS).map(|n| {
        let rng = StdRng::seed_from_u64(seed.wrapping_mul(31).wrapping_add(n as u64 + 1));
        Client { n, rng, cluster, shared, http: crate::common::client() }.run(deadline)
    });
    futures_util::future::join_all(clients).await;
}

struct Client<'a> {
    n: usize,
    rng: StdRng,
    cluster: &'a Cluster,
    shared: &'a Shared,
    http: awc::Client,
}

/// An answer: status, the `Location` or the API's reference, and the body.
struct Answer {
    status: u16,
    reference: Option<String>,
    body: String,
}

impl Client<'_> {
    async fn run(mut self, deadline: Instant) {
        while Instant::now() < deadline {
            match self.rng.random_range(0..100) {
                0..40 => self.book(Via::Form).await,
                40..65 => self.book(Via::Api).await,
                65..70 => self.set_available().await,
                70..72 => self.reset().await,
                72..85 => self.check_in().await,
                _ => self.look_up().await,
            }
            let pause = self.rng.random_range(0..150);
            actix_rt::time::sleep(Duration::from_millis(pause)).await;
        }
    }

    /// A booking, and with some luck a retry of it with the same key: after the answer (a
    /// browser retry, a script), or at the same time (a double click).
    async fn book(&mut self, via: Via) {
        let (tier, _) = TIERS[self.rng.random_range(0..TIERS.len())];
        let quantity = self.rng.random_range(1..=3);
        let key = format!("soak-{}-{}", self.n, self.rng.random::<u64>());
        let op = Op::Book { via, key, tier: tier.into(), quantity };
        match self.rng.random_range(0..10) {
            0 => {
                let (a, b) = (self.send(op.clone()), self.send(op));
                futures_util::future::join(a, b).await;
            }
            1..=2 => {
                self.send(op.clone()).await;
                self.send(op).await;
            }
            _ => self.send(op).await,
        }
    }

    async fn set_available(&mut self) {
        let (tier, capacity) = TIERS[self.rng.random_range(0..TIERS.len())];
        // Mostly generous, sometimes nearly sold out (the last seats, raced for).
        let target = if self.rng.random_bool(0.3) {
            self.rng.random_range(0..=3)
        } else {
            self.rng.random_range(capacity / 2..=capacity)
        };
        self.send(Op::SetAvailable { tier: tier.into(), target }).await;
    }

    async fn reset(&mut self) {
        let tier =
            self.rng.random_bool(0.5).then(|| TIERS[self.rng.random_range(0..TIERS.len())].0.to_owned());
        self.send(Op::Reset { tier }).await;
    }

    /// A ticket at the door: mostly one seen before, sometimes twice in a row.
    async fn check_in(&mut self) {
        let code = {
            let codes = self.shared.codes.borrow();
            if codes.is_empty() {
                return;
            }
            codes[self.rng.random_range(0..codes.len())].clone()
        };
        self.send(Op::CheckIn { code: code.clone() }).await;
        if self.rng.random_bool(0.2) {
            self.send(Op::CheckIn { code }).await;
        }
    }

    async fn look_up(&mut self) {
        let reference = {
            let known = self.shared.acknowledged.borrow();
            if known.is_empty() {
                return;
            }
            known[self.rng.random_range(0..known.len())].clone()
        };
        self.send(Op::Lookup { reference }).await;
    }

    /// Sends `op` to a live process and records what came back.
    async fn send(&self, op: Op) {
        let sent_at = now_millis();
        // A process chosen per request (the generator is not shared across an await).
        let address = self.cluster.address(&mut StdRng::seed_from_u64(sent_at as u64 ^ self.n as u64));
        let answer = match address {
            Some(address) => self.request(&address, &op).await,
            None => None,
        };
        let answered_at = now_millis();
        if let Some(a) = &answer {
            self.learn(&op, a);
        }
        self.shared.history.borrow_mut().push(Event {
            client: self.n,
            op,
            sent_at,
            answered_at,
            status: answer.as_ref().map(|a| a.status),
            reference: answer.and_then(|a| a.reference),
        });
    }

    /// Remembers what later operations use: acknowledged references and ticket codes.
    fn learn(&self, op: &Op, answer: &Answer) {
        match op {
            Op::Book { .. } if matches!(answer.status, 303 | 201) => {
                if let Some(reference) = &answer.reference {
                    self.shared.acknowledged.borrow_mut().push(reference.clone());
                }
            }
            Op::Lookup { .. } if answer.status == 200 => {
                let Ok(json) = serde_json::from_str::<serde_json::Value>(&answer.body) else { return };
                let codes =
                    json["tickets"].as_array().into_iter().flatten().filter_map(|t| t["code"].as_str());
                self.shared.codes.borrow_mut().extend(codes.map(str::to_owned));
            }
            _ => {}
        }
    }

    async fn request(&self, address: &str, op: &Op) -> Option<Answer> {
        let admin = &self.shared.admin;
        let door = &self.shared.door;
        let url = |path: &str| format!("{address}{path}");
        let form = |fields: Vec<(&str, String)>| serde_urlencoded::to_string(fields).expect("a form");
        let sent = match op {
            Op::Book { via: Via::Form, key, tier, quantity } => {
                let body = form(vec![
                    ("tier", tier.clone()),
                    ("quantity", quantity.to_string()),
                    ("name", format!("Soak Buyer {}", self.n)),
                    ("email", format!("buyer{}@example.com", self.n)),
                    ("idempotency_key", key.clone()),
                ]);
                self.http
                    .post(url("/bookings"))
                    .insert_header(("content-type", "application/x-www-form-urlencoded"))
                    .send_body(body)
                    .await
            }
            Op::Book { via: Via::Api, key, tier, quantity } => {
                let body = serde_json::json!({"ticketTypeId": tier, "quantity": quantity, "userId": format!("soak-{}", self.n)});
                self.http
                    .post(url("/api/bookings"))
                    .insert_header(("content-type", "application/json"))
                    .insert_header(("Idempotency-Key", key.as_str()))
                    .send_body(body.to_string())
                    .await
            }
            Op::SetAvailable { tier, target } => {
                let body = form(vec![
                    ("tier", tier.clone()),
                    ("available", target.to_string()),
                    ("confirm", "yes".into()),
                    ("csrf_token", admin.csrf.clone()),
                ]);
                self.http
                    .post(url("/admin/tiers/available"))
                    .insert_header(("content-type", "application/x-www-form-urlencoded"))
                    .insert_header(("Cookie", admin.cookie.as_str()))
                    .send_body(body)
                    .await
            }
            Op::Reset { tier } => {
                let body = form(vec![
                    ("tier", tier.clone().unwrap_or_else(|| "all".into())),
                    ("confirm", "yes".into()),
                    ("csrf_token", admin.csrf.clone()),
                ]);
                self.http
                    .post(url("/admin/reset"))
                    .insert_header(("content-type", "application/x-www-form-urlencoded"))
                    .insert_header(("Cookie", admin.cookie.as_str()))
                    .send_body(body)
                    .await
            }
            Op::CheckIn { code } => {
                let body = form(vec![("csrf_token", door.csrf.clone()), ("code", code.clone())]);
                self.http
                    .post(url("/door/check-in"))
                    .insert_header(("content-type", "application/x-www-form-urlencoded"))
                    .insert_header(("Cookie", door.cookie.as_str()))
                    .send_body(body)
                    .await
            }
            Op::Lookup { reference } => {
                self.http.get(url(&format!("/api/bookings/{reference}"))).send().await
            }
        };
        let mut response = sent.ok()?;
        let status = response.status().as_u16();
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = response.body().limit(4 * 1024 * 1024).await.ok()?;
        let body = String::from_utf8_lossy(&body).into_owned();
        let reference = match (op, status) {
            (Op::Book { via: Via::Form, .. }, 303) => {
                location.and_then(|l| l.strip_prefix("/bookings/").map(str::to_owned))
            }
            (Op::Book { via: Via::Api, .. }, 201) => serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|j| j["booking"]["reference"].as_str().map(str::to_owned)),
            _ => None,
        };
        Some(Answer { status, reference, body })
    }
}
