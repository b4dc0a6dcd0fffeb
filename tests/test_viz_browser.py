"""The HTML page in a real browser: Debian's chromium, headless, driven by chromedriver.

Checks what only a browser can: the inline SVG renders every node, a click
on an NF shows its details, pan and zoom move the view, and the live page
rewrites its statistics from the server as the file changes, with the same
words chainc's own picture uses. Saves a screenshot of each page under
pytest's tmp dir (the path is printed). CI installs chromium and
chromium-driver (.ci/run); without them these tests fail, they do not skip.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from chainc.driver import load_chain, load_registry
from chainc.ir.graph import NodeKind
from chainc.viz.describe import fmt_rate
from chainc.viz.dot import HEAT, MAX_PEN, chain_picture
from chainc.viz.html import Live, chain_page
from chainc.viz.plan import plan_for
from chainc.viz.serve import make_server
from chainc.viz.statsfile import Snapshot, from_json
from test_viz import SVG, svg_groups, texts

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NATIVE_STATS = Path(__file__).parent / "data" / "viz" / "quickstart-native-stats.json"


def _program(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(f"{names[0]} is missing: apt-get install chromium chromium-driver (see .ci/run)")


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = _program("chromium", "chromium-browser")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(_program("chromedriver")), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def wait_for(predicate, what: str, timeout: float = 15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def screenshot(browser, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    assert browser.save_screenshot(str(path))
    print(f"screenshot: {path}")


def view_box(browser) -> list[float]:
    return [float(v) for v in browser.find_element(By.CSS_SELECTOR, "#view svg")
            .get_dom_attribute("viewBox").split()]


def test_page_renders_every_node_and_a_click_shows_the_nfs_details(browser, registry, tmp_path):
    graph = load_chain(str(EXAMPLES / "edge.chain"), registry=registry).graph
    page = tmp_path / "edge.html"
    page.write_text(chain_page(graph, plan_for(graph)))
    browser.get(page.as_uri())
    nodes = browser.find_elements(By.CSS_SELECTOR, "#view svg g.node")
    assert len(nodes) == 6 + 2 + 1  # NFs, ports, the drop sink
    assert len(browser.find_elements(By.CSS_SELECTOR, "#view svg g.edge")) == 9
    assert len(browser.find_elements(By.CSS_SELECTOR, "#view svg g.cluster")) == 3  # 2 stages, 1 sub-chain
    picture = chain_picture(graph, plan_for(graph))
    browser.find_element(By.ID, picture.node_ids["fw"]).click()
    details = browser.find_element(By.ID, "details").text
    assert details.startswith("fw\nFirewall · edge.chain:15\n")
    assert registry.get("Firewall").doc in details
    assert 'rules "rules/edge.acl"' in details and "default" in details
    assert "stage 0\ncore 0" in details
    assert "selected" in browser.find_element(By.ID, picture.node_ids["fw"]).get_attribute("class")
    browser.find_element(By.ID, picture.node_ids["lb"]).click()
    assert browser.find_element(By.ID, "details").text.startswith("lb\nLoadBalancer")
    screenshot(browser, tmp_path, "edge.png")

    home = view_box(browser)
    browser.find_element(By.ID, "zoom-in").click()
    zoomed = view_box(browser)
    assert zoomed[2] == pytest.approx(home[2] / 1.25)
    browser.find_element(By.ID, "fit").click()
    assert view_box(browser) == home


def svg_texts(browser, svg_id: str) -> list[str]:
    return [t.text for t in browser.find_elements(By.CSS_SELECTOR, f"#{svg_id} text")]


def test_live_page_rewrites_its_statistics_as_the_file_changes(browser, registry, tmp_path):
    graph = load_chain(str(EXAMPLES / "quickstart.chain"), registry=registry).graph
    stats_path = tmp_path / "stats.json"
    # As `chainc viz --live` starts before the binary has written anything: all zeros.
    page = chain_page(graph, None, Snapshot(graph.name, 0.0, {}), Live(interval_s=0.2))
    server = make_server(page, str(stats_path), 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://127.0.0.1:{server.server_address[1]}/")
        status = browser.find_element(By.ID, "status")
        wait_for(lambda: "waiting for statistics" in status.text and "cannot read" in status.text,
                 "the page to report the missing file")

        # The first snapshot: the page writes what chainc's own picture writes for it.
        first = json.loads(NATIVE_STATS.read_text())
        stats_path.write_text(json.dumps(first))
        wait_for(lambda: "updated" in status.text, "the first statistics")
        picture = chain_picture(graph, stats=from_json(first, "first"), live=True)
        drawn = svg_groups(picture.dot, "node")
        for v in picture.edges:
            assert svg_texts(browser, v.dot_id) == v.label_lines, v.edge
        for nf in graph.nodes(NodeKind.NF):
            svg_id = picture.node_ids[nf.id]
            assert svg_texts(browser, svg_id)[-2:] == texts(drawn[svg_id])[-2:], nf.id
            fill = browser.find_element(By.CSS_SELECTOR, f"#{svg_id} path").get_attribute("fill")
            assert fill == next(drawn[svg_id].iter(f"{SVG}path")).get("fill"), nf.id

        # One second later: ten times the traffic, drops at the Classifier, Counter#1 costlier.
        second = json.loads(json.dumps(first))
        second["elapsed_s"] = first["elapsed_s"] + 1.0
        for node in second["nodes"]:
            node["in"] *= 10
            node["out"] = {k: v * 10 for k, v in node["out"].items()}
            if node["id"] == "Counter#1":
                node["cycles"] *= 3
            if node["id"] == "cls":
                node["drops"]["no-match"] = 7
        stats_path.write_text(json.dumps(second))
        web = next(v for v in picture.edges if v.edge.out_port == "web")
        rate = fmt_rate(9 * 3901 / 1.0)  # the rate over the last interval
        wait_for(lambda: svg_texts(browser, web.dot_id) == ["web", "39,010 pkts", rate],
                 "the second statistics on the edge")
        assert svg_texts(browser, picture.node_ids["cls"])[-1] == "drops: no-match 7"
        hottest = browser.find_element(By.CSS_SELECTOR, f"#{picture.node_ids['Counter#1']} path")
        assert hottest.get_attribute("fill") == HEAT[-1]
        width = browser.find_element(By.CSS_SELECTOR, f"#{web.dot_id} path").get_attribute("stroke-width")
        assert float(width) == pytest.approx(1 + (MAX_PEN - 1) * 3901 / 12184, abs=0.01)
        time.sleep(0.5)  # more polls of the same file keep the rate of the last interval
        assert svg_texts(browser, web.dot_id)[-1] == rate
        screenshot(browser, tmp_path, "live.png")
    finally:
        server.shutdown()
        server.server_close()
