#!/usr/bin/env python3
"""Load for deploy/drill, and its report. Standard library only.

    load.py run URL OUT STOPFILE [BUYERS] [POLLERS]
        buyers post the booking form (General Admission, 1 seat, a fresh idempotency key each),
        pollers GET /availability, each on its own keep-alive connection, until STOPFILE exists.
        One line per request to OUT: start end kind status reference (times: Unix seconds).

    load.py report OUT EVENTS BOOKINGS TIERS
        EVENTS: lines "name unix_seconds" (kill, promoted, rolling_start, rolling_end);
        BOOKINGS: "reference|status|transaction_id" rows from the new primary;
        TIERS: "id|capacity|available|withheld|occupied" rows. Prints the figures.
"""

import http.client
import os
import secrets
import sys
import threading
import time
import urllib.parse


def worker(url, out, lock, stop_file, booking):
    parsed = urllib.parse.urlparse(url)
    conn = None
    while not os.path.exists(stop_file):
        if conn is None:
            conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        start = time.time()
        status, reference = 0, "-"
        try:
            if booking:
                body = urllib.parse.urlencode({
                    "tier": "general", "quantity": "1", "name": "Drill Buyer",
                    "email": "drill@example.com", "idempotency_key": secrets.token_urlsafe(15),
                })
                conn.request("POST", "/bookings", body,
                             {"Content-Type": "application/x-www-form-urlencoded"})
            else:
                conn.request("GET", "/availability")
            response = conn.getresponse()
            response.read()
            status = response.status
            location = response.getheader("Location") or ""
            if location.startswith("/bookings/"):
                reference = location[len("/bookings/"):]
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            conn = None
        end = time.time()
        with lock:
            out.write(f"{start:.4f} {end:.4f} {'book' if booking else 'poll'} {status} {reference}\n")
        if status not in (200, 303):
            time.sleep(0.05)


def run(url, out_path, stop_file, buyers=8, pollers=4):
    lock = threading.Lock()
    with open(out_path, "w", buffering=1) as out:
        threads = [threading.Thread(target=worker, args=(url, out, lock, stop_file, i < buyers))
                   for i in range(buyers + pollers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def report(out_path, events_path, bookings_path, tiers_path):
    shots = []
    with open(out_path) as f:
        for line in f:
            start, end, kind, status, reference = line.split()
            shots.append((float(start), float(end), kind, int(status), reference))
    events = {}
    with open(events_path) as f:
        for line in f:
            name, value = line.split()
            events[name] = float(value)
    rows = {}
    with open(bookings_path) as f:
        for line in f:
            reference, status, txn = line.rstrip("\n").split("|")
            rows[reference] = (status, txn)

    def tally(selected):
        counts = {}
        for s in selected:
            counts[s[3]] = counts.get(s[3], 0) + 1
        return ", ".join(f"{k or 'no answer'}: {v}" for k, v in sorted(counts.items()))

    ok = lambda s: s[3] in (200, 303)
    kill, promoted = events["kill"], events["promoted"]
    rolling_start, rolling_end = events["rolling_start"], events["rolling_end"]
    outage = [s for s in shots if s[1] >= kill and s[0] <= promoted]
    after = [s for s in shots if s[2] == "book" and s[3] == 303 and s[0] >= promoted]
    recovered = min(s[1] for s in after) - promoted if after else float("nan")
    failover_window = [s for s in shots if s[1] >= kill and s[0] < rolling_start]
    rolling = [s for s in shots if s[1] >= rolling_start and s[0] <= rolling_end]
    answered = [s[4] for s in shots if s[2] == "book" and s[3] == 303]
    lost = [r for r in answered if rows.get(r, ("missing", ""))[0] != "confirmed"
            or not rows[r][1].startswith("txn_")]
    charged_without_seats = [r for r, (st, txn) in rows.items()
                             if txn and st not in ("confirmed", "refunded")]
    conservation = []
    with open(tiers_path) as f:
        for line in f:
            tier, capacity, available, withheld, occupied = line.rstrip("\n").split("|")
            if int(available) + int(withheld) + int(occupied) != int(capacity) or int(available) < 0:
                conservation.append(tier)

    print(f"requests: {len(shots)} ({tally(shots)})")
    print(f"failover: primary SIGKILLed, standby promoted {promoted - kill:.1f} s later by the drill")
    print(f"  requests answered during the outage: {len(outage)} ({tally(outage)})")
    print(f"  requests failed from the kill to the rolling restart: "
          f"{sum(1 for s in failover_window if not ok(s))} of {len(failover_window)}, "
          f"of which not 503: {sum(1 for s in failover_window if not ok(s) and s[3] != 503)}")
    print(f"  seconds to recover: bookings answered 303 again {recovered:.2f} s after the promotion "
          f"({recovered + promoted - kill:.2f} s after the kill)")
    print(f"rolling restart of every server: {len(rolling)} requests, "
          f"failed {sum(1 for s in rolling if not ok(s))} ({tally(rolling)}), "
          f"{rolling_end - rolling_start:.1f} s")
    print(f"bookings answered 303: {len(answered)}; confirmed on the new primary: "
          f"{len(answered) - len(lost)}; bookings lost: {len(lost)}")
    print(f"charges without seats or refund: {len(charged_without_seats)}; "
          f"refunded: {sum(1 for st, _ in rows.values() if st == 'refunded')}")
    print(f"conservation: {'exact for every tier' if not conservation else 'BROKEN for ' + ', '.join(conservation)}")
    failed = bool(lost or charged_without_seats or conservation
                  or any(not ok(s) for s in rolling)
                  or any(not ok(s) and s[3] != 503 for s in failover_window))
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3], sys.argv[4], *[int(a) for a in sys.argv[5:7]])
    elif sys.argv[1] == "report":
        sys.exit(report(*sys.argv[2:6]))
    else:
        sys.exit(__doc__)
