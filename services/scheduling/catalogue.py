"""The course catalogue that ships with the system: the six stops of Barn och unga Ny.

Plain data, published with `yrkesresan scheduling publish-catalogue` (or `POST /catalogue`).
Titles, days and day modes follow the national owner's plan (`DOMAIN.md`, seed 003):

| course | days | given as | modes |
| --- | --- | --- | --- |
| Handläggning med barnet i centrum | 4 | 2+2 | day 1 on site, days 2–4 on site or digital |
| Samtal och delaktighet | 2 | 1+1 | day 1 on site or digital, day 2 on site |
| Våld och utsatthet | 2 | 1+1 | day 1 on site or digital, day 2 on site |
| Unga lagöverträdare | 1 | 1 | on site or digital |
| Arbeta med familjehem | 1 | 1 | on site or digital |
| Verktyg i vardagen | 1 | ½+½ | digital (webinar or recorded) |

Verktyg i vardagen is modelled as **one** course day given in two half-day parts: the contract
counts whole days, and a participant-day is what the price (1 250 kr) and the trainer pot are
per, so two half days must cost and earn what one day does. Attendance is registered once, when
both parts are done, on the date of the day.

`team_size` is the trainer team an occasion needs, course leader included (the 4-day course:
two teams of four, one of the eight is course leader); `capacity` is a typical number of places
per occasion (a region with 120 new case workers ran five starts of the 4-day course). Both are
defaults for planning, never limits.
"""

from __future__ import annotations

from typing import Any

JOURNEY = "barn_och_unga"
ON_SITE = ("on_site",)
EITHER = ("on_site", "digital")
DIGITAL = ("digital",)


def _prep(item_id: str, title: str, mandatory: bool = True) -> dict[str, Any]:
    return {"item_id": item_id, "title": title, "mandatory": mandatory}


def _task(task_id: str, title: str) -> dict[str, Any]:
    return {"task_id": task_id, "title": title}


# The evaluation (utvärdering) every course asks after completion, answered 1 (instämmer inte
# alls) to 5 (instämmer helt); published with the course, so that the certification service
# and the regions' systems read the questions from the bus.
QUESTIONS: tuple[dict[str, str], ...] = (
    {"question_id": "nytta", "text": "Kursen gav mig kunskap som jag har nytta av i mitt arbete."},
    {"question_id": "forberedelser",
     "text": "Förberedelserna (läsning, podd, film) var ett bra stöd inför kursdagarna."},
    {"question_id": "ovningar",
     "text": "Övningarna och diskussionerna hjälpte mig att använda kunskapen i praktiken."},
    {"question_id": "utbildare", "text": "Utbildarna var väl förberedda och tydliga."},
    {"question_id": "upplagg",
     "text": "Kursdagarnas upplägg (på plats eller digitalt) fungerade bra för mig."},
    {"question_id": "rekommendera", "text": "Jag skulle rekommendera kursen till en kollega."},
)


BARN_OCH_UNGA_NY: tuple[dict[str, Any], ...] = (
    {
        "course_id": "bou-ny-handlaggning",
        "title": "Handläggning med barnet i centrum",
        "days": 4, "parts": (2, 2), "day_modes": (ON_SITE, EITHER, EITHER, EITHER),
        "team_size": 8, "capacity": 24,
        "preparations": (
            _prep("hbc-f1", "Läs kapitel 1–3 i Socialstyrelsens handbok Handläggning och "
                            "dokumentation inom socialtjänsten"),
            _prep("hbc-f2", "Lyssna på podden om BBIC – barns behov i centrum i praktiken"),
            _prep("hbc-f3", "Se filmen Från aktualisering till beslut – en utredning steg "
                            "för steg"),
            _prep("hbc-f4", "Läs Kunskapsguidens avsnitt om förhandsbedömning", False),
        ),
        "deepening_tasks": (
            _task("hbc-d1", "Gå igenom en av dina egna utredningar med BBIC-triangeln som stöd"),
            _task("hbc-d2", "Diskutera med en kollega hur barnets egen röst syns i era beslut"),
            _task("hbc-d3", "Gör en checklista för din uppföljning av placerade barn"),
        ),
    },
    {
        "course_id": "bou-ny-samtal",
        "title": "Samtal och delaktighet",
        "days": 2, "parts": (1, 1), "day_modes": (EITHER, ON_SITE),
        "team_size": 4, "capacity": 24,
        "preparations": (
            _prep("sod-f1", "Läs handbokens kapitel om samtal med barn"),
            _prep("sod-f2", "Lyssna på podden Att prata med barn om svåra saker"),
            _prep("sod-f3", "Se filmen Barnsamtalet – förberedelse, genomförande och "
                            "efterarbete"),
            _prep("sod-f4", "Läs barnkonventionens artikel 12 med kommentar", False),
        ),
        "deepening_tasks": (
            _task("sod-d1", "Planera och genomför ett barnsamtal med kursens samtalsmodell"),
            _task("sod-d2", "Skriv en kort reflektion: hur kunde barnet påverka utredningen?"),
        ),
    },
    {
        "course_id": "bou-ny-vald",
        "title": "Våld och utsatthet",
        "days": 2, "parts": (1, 1), "day_modes": (EITHER, ON_SITE),
        "team_size": 4, "capacity": 24,
        "preparations": (
            _prep("vou-f1", "Läs Kunskapsguidens avsnitt om barn som utsätts för våld"),
            _prep("vou-f2", "Lyssna på podden Våld i nära relationer – barnets perspektiv"),
            _prep("vou-f3", "Se filmen Hedersrelaterat våld och förtryck – tecken att "
                            "uppmärksamma"),
            _prep("vou-f4", "Läs stödmaterialet om skyddsbedömningar", False),
        ),
        "deepening_tasks": (
            _task("vou-d1", "Gör en risk- och skyddsbedömning i ett eget ärende med kursens "
                            "stödfrågor"),
            _task("vou-d2", "Ta reda på hur samverkan med skola och polis går till i din "
                            "kommun"),
        ),
    },
    {
        "course_id": "bou-ny-unga-lagovertradare",
        "title": "Unga lagöverträdare",
        "days": 1, "parts": (1,), "day_modes": (EITHER,),
        "team_size": 3, "capacity": 24,
        "preparations": (
            _prep("ulo-f1", "Läs handbokens kapitel om unga som begår brott"),
            _prep("ulo-f2", "Se filmen Ungdomstjänst och ungdomsvård – så går det till"),
            _prep("ulo-f3", "Lyssna på podden om socialtjänstens yttrande till åklagare och "
                            "domstol", False),
        ),
        "deepening_tasks": (
            _task("ulo-d1", "Skriv ett övningsyttrande utifrån kursens fallbeskrivning"),
        ),
    },
    {
        "course_id": "bou-ny-familjehem",
        "title": "Arbeta med familjehem",
        "days": 1, "parts": (1,), "day_modes": (EITHER,),
        "team_size": 3, "capacity": 30,
        "preparations": (
            _prep("afh-f1", "Läs kapitlet om familjehem i Socialstyrelsens handbok om "
                            "placerade barn"),
            _prep("afh-f2", "Lyssna på podden Familjehemmets uppdrag och stöd"),
            _prep("afh-f3", "Se filmen Barnets väg till familjehemmet", False),
        ),
        "deepening_tasks": (
            _task("afh-d1", "Gå igenom hur familjehemsutredningar görs i din kommun"),
            _task("afh-d2", "Reflektera över hur du håller kontakten med barnet under "
                            "placeringen"),
        ),
    },
    {
        "course_id": "bou-ny-verktyg",
        "title": "Verktyg i vardagen",
        "days": 1, "parts": (0.5, 0.5), "day_modes": (DIGITAL,),
        "team_size": 2, "capacity": 60,
        "preparations": (
            _prep("viv-f1", "Gå igenom introduktionsmodulen på lärplattformen"),
            _prep("viv-f2", "Läs lathunden för dokumentation i verksamhetssystemet", False),
        ),
        "deepening_tasks": (
            _task("viv-d1", "Prova ett av verktygen i ditt nästa ärende och anteckna vad som "
                            "fungerade"),
        ),
    },
)

SHIPPED: tuple[dict[str, Any], ...] = tuple(
    {"journey": JOURNEY, "level": "ny", "questions": QUESTIONS, **course}
    for course in BARN_OCH_UNGA_NY
)
