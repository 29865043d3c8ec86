"""Calendar entries for course days, as iTIP messages (RFC 5546) made with `icalendar`.

One file per course day, because an iTIP message may hold only one UID. The UID names the
occasion and the day, so a re-planned day updates the entry the participant already has (same
UID, higher SEQUENCE) and a cancelled one removes it (METHOD:CANCEL, same UID). Course days
have dates but no hours in the contract: they are all-day entries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from icalendar import Calendar, Event, vCalAddress, vText

from services.notification.domain import Day

PRODID = "-//Yrkesresan//Kallelser till kursdagar//SV"
MODE_WORDS = {"on_site": "på plats", "digital": "digitalt"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One course day's calendar entry as a message sends it."""

    occasion_id: str
    title: str
    day: Day
    sequence: int
    cancel: bool = False

    @property
    def uid(self) -> str:
        return f"kurstillfalle-{self.occasion_id}-dag-{self.day.day}@yrkesresan"

    @property
    def filename(self) -> str:
        return f"kursdag-{self.day.day}{'-installd' if self.cancel else ''}.ics"

    @property
    def method(self) -> str:
        return "CANCEL" if self.cancel else "REQUEST"


def location(day: Day) -> str:
    if day.venue:
        return day.venue
    return "Digitalt" if day.mode == "digital" else "På plats (lokalen meddelas av regionen)"


def calendar_file(entry: Entry, organizer: str, attendee: str, stamp: dt.datetime) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", entry.method)
    event = Event()
    event.add("uid", entry.uid)
    event.add("sequence", entry.sequence)
    event.add("dtstamp", stamp.astimezone(dt.UTC))
    event.add("dtstart", entry.day.date)
    event.add("dtend", entry.day.date + dt.timedelta(days=1))
    event.add("summary", f"{entry.title}, kursdag {entry.day.day}")
    event.add("location", location(entry.day))
    event.add("description", f"Kurstillfälle {entry.occasion_id}, kursdag {entry.day.day} "
                             f"({MODE_WORDS.get(entry.day.mode, entry.day.mode)}).")
    event.add("status", "CANCELLED" if entry.cancel else "CONFIRMED")
    event.add("transp", "OPAQUE")
    chair = vCalAddress(f"mailto:{organizer}")
    chair.params["cn"] = vText("Yrkesresan")
    event.add("organizer", chair)
    guest = vCalAddress(f"mailto:{attendee}")
    guest.params["role"] = vText("REQ-PARTICIPANT")
    guest.params["rsvp"] = vText("FALSE")
    event.add("attendee", guest)
    cal.add_component(event)
    return bytes(cal.to_ical())
