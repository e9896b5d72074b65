"""The web console at / (issue 15) in a real headless Chromium: Debian's chromium and
chromium-driver (scripts/install-deps.sh), driven by Selenium; no browser is downloaded. It sees
a topic a real client created, browses its messages, produces one from the form that kafka-python
reads back, shows a group's lag falling as a consumer commits, and resets an inactive group's
offsets; ACLs added and deleted from it allow and deny a SCRAM user's confluent-kafka producer;
a transactional producer's transaction goes Empty, Ongoing (with its partitions), CompleteCommit,
and one stuck past its timeout in a cluster is flagged hanging. Every page is saved as a screenshot under the test's tmp dir (screenshots/); the
README's are copies of these (docs/console/)."""
import json
import os
import shutil
import time

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as CTopicPartition
from kafka import KafkaConsumer, TopicPartition

from conftest import create_topics, wait_until

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="chromium and chromium-driver not installed (scripts/install-deps.sh installs them)")


@pytest.fixture
def browser(tmp_path):
    # Selenium Manager would look for (and download) a browser and a driver: it is given both.
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1366,900",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.implicitly_wait(0)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    driver.shots = shots
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver, name):
    """Save the page as screenshots/<name>.png; with FJORD_CONSOLE_SCREENSHOTS=<dir>, there too."""
    path = driver.shots / f"{name}.png"
    driver.save_screenshot(str(path))
    extra = os.environ.get("FJORD_CONSOLE_SCREENSHOTS")
    if extra:
        shutil.copy(path, os.path.join(extra, f"{name}.png"))


def css(driver, selector):
    from selenium.webdriver.common.by import By
    return driver.find_elements(By.CSS_SELECTOR, selector)


def text_of(driver, selector):
    els = css(driver, selector)
    return els[0].text if els else None


def wait_text(driver, selector, want, timeout=15):
    """Wait until the element's text is `want` (or satisfies it, if callable)."""
    check = want if callable(want) else (lambda t: t == want)
    wait_until(lambda: (t := text_of(driver, selector)) is not None and check(t), timeout=timeout,
               what=f"{selector} to show {want!r} (shows {text_of(driver, selector)!r})")


def open_page(driver, broker, hash_):
    driver.get(f"{broker.http}/{hash_}")
    wait_until(lambda: driver.execute_script("return document.getElementById('view').dataset.loaded") == hash_,
               timeout=15, what=f"page {hash_}")


def fill(driver, form, name, value):
    from selenium.webdriver.support.ui import Select
    el = css(driver, f"{form} [name='{name}']")[0]
    if el.tag_name == "select":
        Select(el).select_by_value(value)
    else:
        el.clear()
        el.send_keys(value)


def rows(driver, table):
    return css(driver, f"#{table} tbody tr")


def test_console_shows_and_changes_what_clients_see(broker, browser):
    d = browser
    create_topics(broker.bootstrap, "orders", partitions=2)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    items = ["kayak", "paddle", "tent", "stove", "lamp"]
    for i, item in enumerate(items):
        p.produce("orders", key=f"order-{i}", value=json.dumps({"id": i, "item": item}),
                  headers=[("source", b"shop")], partition=0)
    assert p.flush(30) == 0

    # Overview: this broker, the controller, the version, uptime; throughput once measured.
    open_page(d, broker, "#/")
    wait_text(d, "#version", "0.1.0")
    assert len(rows(d, "brokers")) == 1 and "controller" in rows(d, "brokers")[0].text
    wait_text(d, "#rate-in", lambda t: t.endswith("/s"))
    shot(d, "overview")

    # Topics: the client's topic with its record count.
    open_page(d, broker, "#/topics")
    row = css(d, "tr[data-topic='orders']")
    assert row, d.page_source[:2000]
    cells = [c.text for c in row[0].find_elements("css selector", "td")]
    assert cells[:4] == ["orders", "2", "1", "5"], cells
    shot(d, "topics")

    # The topic: partitions with offsets, configs.
    row[0].find_element("css selector", "a").click()
    wait_text(d, "#topic-name", "orders")
    parts = [[c.text for c in r.find_elements("css selector", "td")] for r in rows(d, "partitions")]
    assert [(r[0], r[4], r[5]) for r in parts] == [("0", "0", "5"), ("1", "0", "0")], parts
    assert css(d, "#configs tr[data-config='cleanup.policy']")
    shot(d, "topic")

    # Messages: exact contents, JSON pretty-printed, the filter, bounded pages.
    open_page(d, broker, "#/topics/orders/messages")
    wait_until(lambda: len(rows(d, "messages")) == 5, what="5 messages")
    first = rows(d, "messages")[0]
    assert first.get_attribute("data-offset") == "0"
    assert first.find_element("css selector", "td.key").text == "order-0"
    pretty = first.find_element("css selector", "td.value pre.json").text
    assert json.loads(pretty) == {"id": 0, "item": "kayak"} and "\n" in pretty
    assert "source=shop" in first.text
    shot(d, "messages")
    fill(d, "#browse", "q", "stove")
    css(d, "#browse button")[0].click()
    wait_until(lambda: [r.get_attribute("data-offset") for r in rows(d, "messages")] == ["3"], what="filtered to offset 3")
    fill(d, "#browse", "q", "")
    fill(d, "#browse", "from", "offset")
    fill(d, "#browse", "at", "1")
    fill(d, "#browse", "limit", "2")
    css(d, "#browse button")[0].click()
    wait_until(lambda: [r.get_attribute("data-offset") for r in rows(d, "messages")] == ["1", "2"], what="offsets 1-2")
    css(d, "#next-page")[0].click()
    wait_until(lambda: [r.get_attribute("data-offset") for r in rows(d, "messages")] == ["3", "4"], what="offsets 3-4")
    # Past the end: Kafka's error, shown.
    fill(d, "#browse", "at", "99")
    css(d, "#browse button")[0].click()
    wait_text(d, "#read-error", lambda t: t.startswith("OFFSET_OUT_OF_RANGE"))

    # Produce from the form; kafka-python reads it back.
    open_page(d, broker, "#/topics/orders")
    fill(d, "#produce", "partition", "1")
    fill(d, "#produce", "key", "web")
    fill(d, "#produce", "value", '{"from": "browser"}')
    fill(d, "#produce", "headers", "src=console")
    css(d, "#produce button[type=submit]")[0].click()
    wait_text(d, "#flash", "Produced to orders-1 at offset 0")
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=10000)
    c.assign([TopicPartition("orders", 1)])
    got = next(iter(c))
    c.close()
    assert (got.offset, got.key, got.value, got.headers) == (0, b"web", b'{"from": "browser"}', [("src", b"console")])
    shot(d, "produced")

    # A group's lag falls as its consumer commits.
    create_topics(broker.bootstrap, "lagging")
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for i in range(10):
        p.produce("lagging", value=b"m%d" % i)
    assert p.flush(30) == 0
    cons = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "console-g",
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    cons.subscribe(["lagging"])
    wait_until(lambda: (m := cons.poll(0.2)) is not None and not m.error(), timeout=30, what="first record")
    cons.commit(offsets=[CTopicPartition("lagging", 0, 2)], asynchronous=False)
    open_page(d, broker, "#/groups")
    wait_until(lambda: css(d, "tr[data-group='console-g']"), what="group listed")
    shot(d, "groups")
    open_page(d, broker, "#/groups/console-g")
    wait_text(d, "#group-state", "Stable")
    wait_text(d, "#total-lag", "8")
    assert "lagging: 0" in rows(d, "members")[0].text
    shot(d, "group")
    cons.commit(offsets=[CTopicPartition("lagging", 0, 6)], asynchronous=False)
    wait_text(d, "#total-lag", "4")
    cons.commit(offsets=[CTopicPartition("lagging", 0, 10)], asynchronous=False)
    wait_text(d, "#total-lag", "0")
    # An active group's offsets cannot be reset.
    assert not css(d, "#reset-offsets button")[0].is_enabled()

    # Stopped, the group is Empty: reset it to the earliest offsets from the form.
    cons.close()
    wait_text(d, "#group-state", "Empty")
    wait_until(lambda: css(d, "#reset-offsets button")[0].is_enabled(), what="reset enabled")
    fill(d, "#reset-offsets", "to", "earliest")
    css(d, "#reset-offsets button")[0].click()
    wait_text(d, "#flash", "Reset lagging-0 to 0")
    wait_text(d, "#total-lag", "10")
    kc = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="console-g", enable_auto_commit=False)
    assert kc.committed(TopicPartition("lagging", 0)) == 0
    kc.close()
    shot(d, "group-reset")

    # Delete the group (two clicks: the second confirms).
    css(d, "#delete-group")[0].click()
    wait_text(d, "#delete-group", "Really delete console-g?")
    css(d, "#delete-group")[0].click()
    wait_until(lambda: d.execute_script("return document.getElementById('view').dataset.loaded") == "#/groups",
               what="back at the groups")
    wait_until(lambda: not css(d, "tr[data-group='console-g']"), what="group gone")


def test_console_errors_are_shown_not_thrown(broker, browser):
    d = browser
    open_page(d, broker, "#/topics")
    fill(d, "#create-topic", "name", "bad name!")
    css(d, "#create-topic button")[0].click()
    wait_text(d, "#flash", lambda t: t.startswith("INVALID_TOPIC_EXCEPTION"))
    fill(d, "#create-topic", "name", "made-in-browser")
    fill(d, "#create-topic", "partitions", "3")
    css(d, "#create-topic button")[0].click()
    wait_until(lambda: css(d, "tr[data-topic='made-in-browser']"), what="topic listed")
    # Add partitions, edit a config, delete: each seen by a Kafka client.
    open_page(d, broker, "#/topics/made-in-browser")
    fill(d, "#add-partitions", "count", "4")
    css(d, "#add-partitions button")[0].click()
    wait_until(lambda: len(rows(d, "partitions")) == 4, what="4 partitions")
    inp = css(d, "#configs tr[data-config='retention.ms'] input")[0]
    inp.clear()
    inp.send_keys("3600000")
    css(d, "#save-configs")[0].click()
    wait_text(d, "#flash", "Saved retention.ms")
    from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    res = ConfigResource(ResourceType.TOPIC, "made-in-browser")
    assert admin.describe_configs([res])[res].result(15)["retention.ms"].value == "3600000"
    assert len(admin.list_topics("made-in-browser", timeout=10).topics["made-in-browser"].partitions) == 4
    css(d, "#delete-topic")[0].click()
    wait_text(d, "#delete-topic", "Really delete made-in-browser?")
    css(d, "#delete-topic")[0].click()
    # The console goes back to the topics once the delete is answered.
    wait_until(lambda: d.execute_script("return document.getElementById('view').dataset.loaded") == "#/topics",
               what="back at the topics")
    wait_until(lambda: "made-in-browser" not in admin.list_topics(timeout=10).topics, what="topic deleted")
    assert not css(d, "tr[data-topic='made-in-browser']")
    open_page(d, broker, "#/groups/nobody")
    wait_text(d, "#flash", lambda t: t.startswith("GROUP_ID_NOT_FOUND"))


def test_console_logs_in_as_a_scram_user_and_honours_acls(start_broker, browser):
    """With an authorizer the console takes a SCRAM user's HTTP Basic login (here in the URL, as
    a browser sends it after its login prompt) and shows only what that user's ACLs allow."""
    from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, AdminClient,
                                       ResourcePatternType, ResourceType)
    from test_http_api import AUTHORIZER, add_scram_users
    b = start_broker(AUTHORIZER)
    add_scram_users(b.bootstrap, [("alice", "SCRAM-SHA-256", "alice-pw")])
    create_topics(b.bootstrap, "seen", "hidden")
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    acls = [AclBinding(ResourceType.TOPIC, "seen", ResourcePatternType.LITERAL, "User:alice", "*",
                       AclOperation.READ, AclPermissionType.ALLOW)]
    for f in admin.create_acls(acls).values():
        f.result(15)
    d = browser
    base = b.http.replace("http://", "http://alice:alice-pw@")
    d.get(base + "/#/topics")
    wait_until(lambda: d.execute_script("return document.getElementById('view').dataset.loaded") == "#/topics",
               timeout=15, what="topics page")
    assert [r.get_attribute("data-topic") for r in rows(d, "topics")] == ["seen"], text_of(d, "#flash")
    wait_text(d, "#whoami", "User:alice")
    open_page(d, b, "#/topics/hidden")
    wait_text(d, "#flash", lambda t: t.startswith("TOPIC_AUTHORIZATION_FAILED"))
    shot(d, "denied")


def row_cells(driver, selector):
    rs = css(driver, selector)
    return [c.text for c in rs[0].find_elements("css selector", "td")] if rs else None


def test_console_acls_allow_and_deny_a_scram_client(start_broker, browser):
    """ACLs added and deleted from the console decide what a SCRAM user's confluent-kafka
    producer may do; a user without rights on the cluster gets Kafka's refusal."""
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import AclBindingFilter, AclOperation, AclPermissionType, AdminClient, ResourcePatternType, ResourceType
    from conftest import produce_error
    from test_http_api import scram_conf, start_scram_broker
    b = start_scram_broker(start_broker, [("admin", "SCRAM-SHA-512", "admin-pw"), ("alice", "SCRAM-SHA-256", "alice-pw")])
    create_topics(b.bootstrap, "payments")
    alice, denied = scram_conf("alice", "alice-pw"), KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert produce_error(b.sasl, "payments", alice) == denied
    d = browser

    # alice's own login: no DESCRIBE on the cluster, so no ACLs to see.
    d.get(b.http.replace("http://", "http://alice:alice-pw@") + "/#/acls")
    wait_until(lambda: d.execute_script("return document.getElementById('view').dataset.loaded") == "#/acls",
               timeout=15, what="ACLs page")
    wait_text(d, "#flash", "CLUSTER_AUTHORIZATION_FAILED: Cluster authorization failed.")
    wait_text(d, "#whoami", "User:alice")
    assert not css(d, "#acls")

    # The admin (a super user).
    d.get("about:blank")
    d.get(b.http.replace("http://", "http://admin:admin-pw@") + "/#/acls")
    wait_until(lambda: d.execute_script("return document.getElementById('view').dataset.loaded") == "#/acls",
               timeout=15, what="ACLs page")
    wait_text(d, "#whoami", "User:admin")
    assert [r.text for r in rows(d, "acls")] == ["none"]

    def add(permission, operation, pattern, name):
        for field, value in [("permission", permission), ("principal", "User:alice"), ("operation", operation),
                             ("resource_type", "TOPIC"), ("pattern_type", pattern), ("resource_name", name)]:
            fill(d, "#create-acl", field, value)
        css(d, "#create-acl button")[0].click()
        wait_text(d, "#flash", f"Added {permission} User:alice {operation} on TOPIC {name} ({pattern}) from *")

    def shown():
        return [r.get_attribute("data-acl") for r in rows(d, "acls")]

    allow = "TOPIC|payments|LITERAL|User:alice|*|WRITE|ALLOW"
    deny = "TOPIC|pay|PREFIXED|User:alice|*|ALL|DENY"
    add("ALLOW", "WRITE", "LITERAL", "payments")
    wait_until(lambda: shown() == [allow], what="the ALLOW listed")
    assert row_cells(d, f"tr[data-acl='{allow}']")[:7] == ["TOPIC", "LITERAL", "payments", "User:alice", "*", "WRITE", "ALLOW"]
    assert produce_error(b.sasl, "payments", alice) is None
    # A DENY on a prefix beats it.
    add("DENY", "ALL", "PREFIXED", "pay")
    wait_until(lambda: shown() == [deny, allow], what="both listed")
    assert produce_error(b.sasl, "payments", alice) == denied
    shot(d, "acls")

    # Kafka's filters, from the form.
    fill(d, "#acl-filter", "permission", "DENY")
    css(d, "#acl-filter button")[0].click()
    wait_until(lambda: shown() == [deny], what="only the DENY")
    wait_text(d, "#acl-summary", "1 match the filter.")
    open_page(d, b, "#/acls?resource_type=TOPIC&resource_name=payments&pattern_type=MATCH&operation=WRITE")
    assert shown() == [allow]
    # The topic page links to the ACLs that apply to it.
    open_page(d, b, "#/topics/payments")
    css(d, "a[href*='#/acls?']")[0].click()
    wait_until(lambda: d.execute_script("return document.getElementById('view').dataset.loaded")
               == "#/acls?resource_type=TOPIC&resource_name=payments&pattern_type=MATCH", what="the topic's ACLs")
    assert shown() == [deny, allow]

    # Deleted from its row (the second click confirms): alice may write again, then not.
    def delete(key, words):
        button = css(d, f"tr[data-acl='{key}'] button.delete-acl")[0]
        button.click()
        wait_until(lambda: button.text == "Really delete?", what="delete asks again")
        button.click()
        wait_text(d, "#flash", f"Deleted {words}")

    delete(deny, "DENY User:alice ALL on TOPIC pay (PREFIXED) from *")
    wait_until(lambda: shown() == [allow], what="the DENY gone")
    assert produce_error(b.sasl, "payments", alice) is None
    delete(allow, "ALLOW User:alice WRITE on TOPIC payments (LITERAL) from *")
    wait_until(lambda: [r.text for r in rows(d, "acls")] == ["none"], what="no ACLs")
    assert produce_error(b.sasl, "payments", alice) == denied
    every = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY, AclPermissionType.ANY)
    assert AdminClient({"bootstrap.servers": b.bootstrap}).describe_acls(every).result(15) == []

    # Kafka's validation, shown.
    fill(d, "#create-acl", "principal", "alice")
    fill(d, "#create-acl", "resource_name", "payments")
    css(d, "#create-acl button")[0].click()
    wait_text(d, "#flash", "INVALID_REQUEST: Could not parse principal from `alice` (no colon is found between principal "
                           "type and principal name)")


def test_console_shows_transactions_as_they_go(broker, browser):
    """A confluent-kafka transactional producer's transaction: Empty, Ongoing (highlighted, with
    its partitions), CompleteCommit, on the list and on its own page."""
    from test_http_api import NO_AUTHORIZER, ok
    create_topics(broker.bootstrap, "txn-orders", partitions=3)
    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "console-tx", "transaction.timeout.ms": 60000})
    p.init_transactions(30)
    pid = str(ok(broker, "GET", "/api/v1/transactions/console-tx")["producer_id"])
    d = browser
    open_page(d, broker, "#/transactions")
    row = "tr[data-txn='console-tx']"
    assert row_cells(d, row)[:6] == ["console-tx", "Empty", pid, "0", "–", "1m 0s"]
    assert css(d, row)[0].get_attribute("class") == ""

    p.begin_transaction()
    p.produce("txn-orders", b"a", partition=0)
    p.produce("txn-orders", b"b", partition=2)
    assert p.flush(30) == 0
    wait_until(lambda: row_cells(d, row)[:6] == ["console-tx", "Ongoing", pid, "0", "txn-orders: 0, 2", "1m 0s"],
               what="Ongoing with its partitions")
    assert css(d, row)[0].get_attribute("class") == "open"
    assert row_cells(d, row)[7] == ""  # not hanging
    wait_text(d, "#txn-open", "1")
    assert text_of(d, "#txn-hanging") == "0"
    shot(d, "transactions")

    css(d, f"{row} a")[0].click()
    wait_text(d, "#txn-state", "Ongoing")
    assert [r.get_attribute("data-tp") for r in rows(d, "txn-partitions")] == ["txn-orders-0", "txn-orders-2"]
    assert (text_of(d, "#txn-producer-id"), text_of(d, "#txn-producer-epoch"), text_of(d, "#txn-timeout")) == (pid, "0", "1m 0s")
    assert not css(d, "#hanging-warning")
    shot(d, "transaction")

    p.commit_transaction(30)
    wait_text(d, "#txn-state", "CompleteCommit")
    wait_until(lambda: [r.text for r in rows(d, "txn-partitions")] == ["none"], what="no partitions once complete")
    open_page(d, broker, "#/transactions")
    assert row_cells(d, row)[:5] == ["console-tx", "CompleteCommit", pid, "0", "–"]
    assert css(d, row)[0].get_attribute("class") == ""
    fill(d, "#txn-filter", "state", "Ongoing")
    css(d, "#txn-filter button")[0].click()
    wait_until(lambda: d.execute_script("return document.getElementById('view').dataset.loaded") == "#/transactions?state=Ongoing",
               what="the Ongoing ones")
    assert [r.text for r in rows(d, "transactions")] == ["none"]

    open_page(d, broker, "#/transactions/nope")
    wait_text(d, "#flash", 'TRANSACTIONAL_ID_NOT_FOUND: The transaction coordinator knows no transactional id "nope".')
    # Without an authorizer the ACL page says there is none.
    open_page(d, broker, "#/acls")
    assert text_of(d, "#no-authorizer") == NO_AUTHORIZER["message"] + "."
    shot(d, "acls-disabled")


def test_console_flags_a_hanging_transaction(start_cluster, browser):
    """A transaction open past its timeout (committed while its partition has no leader) is
    flagged hanging on its coordinator's console, until the node is back and it completes."""
    from test_http_api import STUCK_TXN_OVERRIDES, stuck_transaction
    c = start_cluster(3, STUCK_TXN_OVERRIDES)
    coordinator, victim, _ = stuck_transaction(c, "stuck-tx")
    d = browser
    open_page(d, coordinator, "#/transactions")
    row = "tr[data-txn='stuck-tx']"
    wait_until(lambda: css(d, row) and css(d, row)[0].get_attribute("class") == "open hanging", timeout=15,
               what="stuck-tx flagged hanging")
    cells = row_cells(d, row)
    assert cells[:5] == ["stuck-tx", "PrepareCommit", cells[2], "0", "stuck-tx-topic: 0"] and cells[7] == "hanging", cells
    assert text_of(d, "#txn-hanging") == "1"
    shot(d, "transactions-hanging")
    open_page(d, coordinator, "#/transactions/stuck-tx")
    wait_text(d, "#hanging-warning", lambda t: t.startswith("Open for ") and t.endswith(
        ", longer than its timeout of 3 s: the coordinator has not been able to finish it (a partition's marker cannot be "
        "written); see the broker's log."))
    shot(d, "transaction-hanging")
    victim.start()
    wait_text(d, "#txn-state", "CompleteCommit", timeout=30)
    assert not css(d, "#hanging-warning")
