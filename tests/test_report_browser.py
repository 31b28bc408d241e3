"""The HTML report in a real browser: headless Chromium shows every embedded plot, logs no console error and
shows an odd model name as text. The string checks of test_report.py cannot see a data: URI that does not
decode or markup a browser rejects; this can. Skips where chromium, chromedriver or selenium is missing
(.ci/run installs Debian's chromium and chromium-driver, the test extra selenium)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from e2lm_bench.report import write_report
from tests.test_report import FAILURES, MODELS, ODD_MODEL, make_scores, make_table

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
# No network here: without the background flags Chromium logs refused connections of its own
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


@pytest.fixture
def browser(tmp_path):
    """Chromium through chromedriver, with a fresh profile and every console message kept."""
    absent = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if path is None]
    if absent:
        pytest.skip(f"{' and '.join(absent)} not on PATH (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def scores_with_decision() -> dict:
    """test_report's scores plus a decision-accuracy curve on one benchmark, for the decision plot."""
    scores = make_scores()
    scores["settings"]["decision"] = {"small": [MODELS[0]], "target": [ODD_MODEL]}
    scores["benchmarks"][0]["decision"] = {"curve": [[250, 0.5], [500, 0.75], [1000, 1.0]], "final": 1.0,
                                           "final_ci": [0.5, 1.0]}
    return scores


def test_report_loads_in_chromium(tmp_path, browser):
    rewards = tmp_path / "rewards.csv"
    pd.DataFrame({"step": [1, 2, 3], "reward": [0.1, 0.3, 0.2], "kl": [0.0, 0.01, 0.02],
                  "completion_length": [5, 6, 7], "bleu": [0.1, 0.3, 0.2]}).to_csv(rewards, index=False)
    out = write_report(tmp_path / "run", make_table(), scores_with_decision(), FAILURES, reward_logs={"rl": rewards})
    names = {path.name.split("_")[0] for path in out["plots"]}
    assert names == {"heatmap", "curve", "sq", "decision", "rewards"}  # every kind of plot this report makes

    browser.get(out["html"].as_uri())  # returns after the load event: every image has loaded or failed
    images = browser.execute_script(
        "return Array.from(document.images, img => [img.alt, img.complete && img.naturalWidth > 0])")
    assert len(images) == len(out["plots"])
    assert [alt for alt, shown in images if not shown] == []
    assert browser.execute_script("return document.querySelectorAll('details').length") == 2  # the folds
    text = browser.execute_script("return document.body.innerText")
    assert ODD_MODEL in text and browser.execute_script("return document.querySelectorAll('b').length") == 0
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
