"""The report page a marketer sends: built from the example's sample data (mentions, survey
replies, themes), rendered in headless Chromium at desktop and phone width with its charts and
themes table present, self-contained (no scripts, no external assets).

Set ASCOLTO_SCREENSHOTS to a folder to keep the screenshots."""

import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from helpers.browser import launch, needs_chromium
from helpers.models import BagOfWordsScorer
from helpers.paths import EXAMPLE_CONFIG
from listener.app import App
from listener.config import load_config
from listener.jobs.collect import run_source
from listener.jobs.surveys import import_survey_files, run_response_scoring
from listener.reports.figures import Period, brand_report
from listener.reports.page import html_report

WIDTHS = {"desktop": 1200, "phone": 390}


@pytest.fixture
def page_html(tmp_path, clock):
    for name in ("sample_mentions.jsonl", "sample_replies.csv", "sample_orders.csv"):
        shutil.copy(EXAMPLE_CONFIG.parent / name, tmp_path)
    config = tmp_path / "ascolto.toml"
    config.write_text(EXAMPLE_CONFIG.read_text().replace('path = "../ascolto.db"', 'path = "ascolto.db"'))
    app = App(load_config(config), now=clock, scorer=BagOfWordsScorer())
    run_source(app, app.config.source("sample"))
    assert import_survey_files(app) == (6, 88)
    run_response_scoring(app)
    period = Period(clock().replace(day=1, month=9), clock() + timedelta(days=7))  # all the sample
    report = brand_report(app.db, "Caffè Aurora", period, app.config.themes, "it")
    app.close()
    assert report.survey.responses == 88 and report.drivers and sum(report.score_counts) == 88
    return html_report([report])


def test_the_page_is_self_contained(page_html):
    assert "<script" not in page_html.lower()
    external = re.findall(r'(?:src|href)="(?!#)([^"]+)"', page_html) + re.findall(r"url\(([^)]+)\)", page_html)
    assert external == []
    assert page_html.count("<svg") == 3  # NPS per week, answers per score, mentions per day


@needs_chromium
@pytest.mark.parametrize("device", WIDTHS)
def test_the_page_in_a_real_browser(page_html, tmp_path, device):
    from playwright.sync_api import sync_playwright

    path = tmp_path / "report.html"
    path.write_text(page_html, encoding="utf-8")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": WIDTHS[device], "height": 900})
        page.goto(path.as_uri())
        charts = page.locator("svg[role=img]")
        assert charts.count() == 3
        for i in range(3):
            box = charts.nth(i).bounding_box()
            assert box["width"] > 300 and box["x"] + box["width"] <= WIDTHS[device]  # drawn, and inside the page
            assert charts.nth(i).locator("text").count() > 8  # axes labelled
        assert page.get_by_role("heading", name="Cosa muove il punteggio: i temi").is_visible()
        assert page.get_by_role("rowheader", name="Consegna").is_visible()
        heights = [t.bounding_box()["height"] for t in charts.nth(1).locator("text").element_handles()]
        assert min(heights) >= 9  # the smallest chart label as drawn at this width, in px: readable
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[device]  # no sideways scrolling
        shots = Path(os.environ.get("ASCOLTO_SCREENSHOTS") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / f"report-{device}.png"), full_page=True)
        browser.close()
