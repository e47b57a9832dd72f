"""In a real browser: a conv network typed into Hidden layers trains, and the Weights page
draws its blocks, filters and feature maps."""
import os

import pytest
from appdriver import choose_option, open_app, page_problems, screenshot, set_text, wait_epoch, wait_idle

pytestmark = pytest.mark.browser


def test_a_conv_net_trains_and_shows_its_filters_and_feature_maps(page, app_url, shots_dir):
    open_app(page, app_url)
    choose_option(page, "Dataset", "digits")
    page.wait_for_timeout(300)
    wait_idle(page)
    set_text(page, "Hidden layers", "conv 8@3x3, pool 2, 32")
    page.wait_for_timeout(300)
    wait_idle(page)
    assert "conv 8@3x3" in page.get_by_test_id("stSidebar").inner_text()
    page.get_by_role("button", name="Train 1 epoch").click()
    wait_epoch(page, "1")
    page.get_by_role("link", name="Weights").click()
    page.wait_for_timeout(300)
    wait_idle(page, 60_000)
    main = page.get_by_test_id("stMain")
    for text in ("The network: conv and pool blocks", "8 filters of 3×3 over 1 input channel",
                 "Layer output 1 (conv): 8 × 6 × 6", "Layer output 2 (max-pool 2): 8 × 3 × 3"):
        main.get_by_text(text).first.wait_for(timeout=30_000)
    assert not page_problems(page)
    screenshot(page, os.path.join(shots_dir, "conv_weights.png"))
