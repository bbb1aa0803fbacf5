"""The app shell and the workbench in a real browser (zh_CN, demo district), issue 13 B.1–B.3:
on a 1280px screen the menu is a sidebar and the top line is one row; on a 390px phone the menu
is collapsed behind one toggle, the header stays short, nothing scrolls sideways and a name in
a table never breaks into one character per line. Each role's workbench (and the caseload and
class list) is saved at 1280×800 and 390×844 into ``$WELLBEING_SCREENS`` (default
``build/screens/`` in the repository)."""

from __future__ import annotations

from wellbeing.demo import demo_logins, seed_demo

from .helpers import SIZES, screens_dir, sign_in_as

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# Lists with names in tables, looked at on a phone as well.
EXTRA_PAGES = {
    "psych_teacher": ("/caseload", "/concerns/queue", "/crisis", "/alerts", "/agenda"),
    "class_teacher": ("/my-class", "/concerns/mine"),
}


def _shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(screens_dir() / f"{name}-{width}x{height}.png"), full_page=True)


def _layout_problems(page, where: str) -> list[str]:  # type: ignore[no-untyped-def]
    problems = []
    page.set_viewport_size(DESKTOP)
    page.reload()
    header = page.locator(".site-header").bounding_box()
    if not page.locator("nav.main-nav").is_visible():
        problems.append(f"{where} 1280: the sidebar menu is hidden")
    if page.locator("#app-menu > summary").is_visible():
        problems.append(f"{where} 1280: the menu toggle shows next to the sidebar")
    if header is None or header["height"] > 70:
        problems.append(f"{where} 1280: the top line is {header and header['height']}px high")
    page.set_viewport_size(PHONE)
    page.reload()
    header = page.locator(".site-header").bounding_box()
    if page.locator("nav.main-nav").is_visible():
        problems.append(f"{where} 390: the menu is open without being asked")
    if header is None or header["height"] > 100:
        problems.append(f"{where} 390: the header is {header and header['height']}px high")
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        problems.append(f"{where} 390: the page is {width}px wide (scrolls sideways)")
    # A name never stands one character wide (a squeezed cell).
    narrow = page.evaluate(
        """() => [...document.querySelectorAll('main .person-name')]
              .filter(e => e.textContent.trim().length > 1 && e.getClientRects().length > 1)
              .map(e => e.textContent.trim())"""
    )
    if narrow:
        problems.append(f"{where} 390: names broken over lines: {narrow[:3]}")
    page.click("#app-menu > summary")
    if not page.locator("nav.main-nav").is_visible():
        problems.append(f"{where} 390: the menu does not open")
    return problems


def test_shell_and_each_role_s_workbench(live_server, browser_page, capsys):  # type: ignore[no-untyped-def]
    seed_demo(live_server.db, live_server.env.settings)
    page, base = browser_page, live_server.url
    seen_roles: set[str] = set()
    problems: list[str] = []
    for login in demo_logins():
        if login.role in seen_roles:
            continue
        seen_roles.add(login.role)
        sign_in_as(page, live_server, login.username)
        page.goto(f"{base}/")
        assert page.url.rstrip("/") == base, f"{login.username} was sent to {page.url}"
        assert page.locator("h1").inner_text() == "工作台"
        problems += _layout_problems(page, f"{login.role} /")
        page.screenshot(path=str(screens_dir() / f"menu-open-{login.role}-390x844.png"))  # as left
        page.goto(f"{base}/")
        _shoot(page, f"workbench-{login.role}")
        for extra in EXTRA_PAGES.get(login.role, ()):
            page.goto(f"{base}{extra}")
            problems += _layout_problems(page, f"{login.role} {extra}")
            page.goto(f"{base}{extra}")
            _shoot(page, f"{extra.strip('/').replace('/', '-')}-{login.role}")
    # The same shell in English (longer words): the top line still fits a phone.
    psych = next(login.username for login in demo_logins() if login.role == "psych_teacher")
    sign_in_as(page, live_server, psych)
    page.goto(f"{base}/")
    page.click("#locale-form button[value=en]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Workbench"
    problems += _layout_problems(page, "psych_teacher / (en)")
    page.goto(f"{base}/")
    _shoot(page, "workbench-psych_teacher-en")
    with capsys.disabled():
        print(f"\nworkbench screenshots ({len(seen_roles)} roles): {screens_dir()}")
    assert len(seen_roles) == 7
    assert not problems, "\n  ".join(problems)
