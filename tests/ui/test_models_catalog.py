"""The Models page's engine list: search, readiness filter, and problems many engines share explained once."""
from __future__ import annotations

from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from components.engine_catalog import SHARED_PROBLEM_MIN

CLONE = "git clone https://github.com/open-mmlab/Amphion.git"


async def test_search_and_readiness_filter_narrow_the_engine_list(user: User) -> None:
    await user.open("/models")
    await user.should_see(marker="engine-builtin.hibari")
    await user.should_see(marker="engine-test.missing")
    user.find(marker="engine-search").type("hibari")
    await user.should_see(marker="engine-builtin.hibari")
    await user.should_not_see(marker="engine-test.missing")
    await user.should_not_see(marker="engine-builtin.world_vc")
    (count,) = user.find(marker="engine-count").elements
    shown, total = (int(n) for n in count.text.removesuffix(" engines shown").split(" of "))
    assert 1 <= shown < total

    user.find(marker="engine-search").clear()
    (toggle,) = user.find(marker="engine-filter").elements
    toggle.set_value("blocked")
    await user.should_see(marker="engine-test.missing")
    await user.should_not_see(marker="engine-builtin.hibari")
    toggle.set_value("ready")
    await user.should_see(marker="engine-builtin.hibari")
    await user.should_not_see(marker="engine-test.missing")

    user.find(marker="engine-search").type("no such engine anywhere")
    await user.should_see(marker="no-engine-matches")


async def test_a_problem_many_engines_share_is_explained_once(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AMPHION_ROOT", raising=False)
    await user.open("/models")
    shared = user.find(marker="shared-problem").elements
    texts = [" ".join(label.text for label in card.descendants() if isinstance(label, ui.label)) for card in shared]
    checkout = [text for text in texts if "No Amphion checkout is configured." in text]
    assert len(checkout) == 1
    count = int(checkout[0].split(" engines:")[0])
    assert count >= SHARED_PROBLEM_MIN
    with user.scope(marker="shared-problem"):
        await user.should_see("git clone https://github.com/open-mmlab/Amphion.git")
        await user.should_see("Then set AMPHION_ROOT=/path/to/Amphion", retries=1)
    with user.scope(marker="engine-amphion.maskgct"):
        await user.should_see("No Amphion checkout is configured.")
        await user.should_not_see("git clone https://github.com/open-mmlab/Amphion.git")
    with user.scope(marker="engine-test.missing"):  # a problem of its own keeps its command on its card
        await user.should_see("pip install no-such-package")


@pytest.fixture
def clone_without_g2p_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git clone of Amphion whose G2P files went missing (set before the studio starts)."""
    root = tmp_path / "Amphion"
    for folder in ("models", "utils", ".git"):
        (root / folder).mkdir(parents=True)
    monkeypatch.setenv("AMPHION_ROOT", str(root))
    return root


async def test_a_step_that_ends_in_a_command_shows_the_command_with_a_copy_button(clone_without_g2p_files: Path,
                                                                                   user: User) -> None:
    await user.open("/models")
    await user.should_see("Or clone it again:")
    commands = [label for label in user.find(CLONE).elements if isinstance(label, ui.label)]
    assert commands and {label.text for label in commands} == {CLONE}  # the command alone, not the words before it
    for command in commands:
        row = command.parent_slot.parent
        assert [b.props["icon"] for b in row.descendants() if isinstance(b, ui.button)] == ["content_copy"]
