//! The business hours calendar (a time zone, weekly opening spans, holidays) and the pure SLA
//! arithmetic on it: adding open hours to an instant, and counting open time between two.
//!
//! Decisions:
//! - A calendar without any opening span is open around the clock in its zone (holidays still
//!   close it), so adding hours always ends; a tenant without a calendar row is
//!   [`Calendar::around_the_clock`] (24/7 in UTC).
//! - Spans are local wall-clock times on an ISO weekday; a span may close at 24:00, and a
//!   night shift is two spans (Monday 22:00–24:00, Tuesday 00:00–06:00) that count as one.
//! - Across a DST change the open time is the real elapsed time: a span 00:00–06:00 on the
//!   night clocks go forward holds five hours. A local time that does not exist (in the gap)
//!   means the first instant after the gap; an ambiguous one opens at the earlier and closes at
//!   the later instant.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::TimeZoneName;

/// Seconds in a day: the latest a span may close (24:00).
pub const DAY_SECONDS: u32 = 86_400;
/// How many spans and holidays a calendar may hold.
pub const MAX_SPANS: usize = 70;
pub const MAX_HOLIDAYS: usize = 1_000;

/// An ISO weekday: 1 Monday .. 7 Sunday.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Weekday(u8);

impl Weekday {
    pub fn new(iso: i64) -> Result<Self, &'static str> {
        match iso {
            1..=7 => Ok(Self(iso as u8)),
            _ => Err("must be an ISO weekday from 1 (Monday) to 7 (Sunday)"),
        }
    }

    pub fn iso(self) -> u8 {
        self.0
    }

    pub fn name(self) -> &'static str {
        [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ][usize::from(self.0 - 1)]
    }

    pub const ALL: [Weekday; 7] = [
        Self(1),
        Self(2),
        Self(3),
        Self(4),
        Self(5),
        Self(6),
        Self(7),
    ];

    fn of(date: NaiveDate) -> Self {
        Self(date.weekday().number_from_monday() as u8)
    }
}

/// A wall-clock time of day from 00:00 to 24:00, to the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime(u32);

impl ClockTime {
    /// `HH:MM` or `HH:MM:SS`, from 00:00 to 24:00.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const WRONG: &str = "must be a time of day such as 09:00 or 17:30 (00:00 to 24:00)";
        let parts: Vec<&str> = raw.trim().split(':').collect();
        if !(2..=3).contains(&parts.len())
            || parts
                .iter()
                .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(WRONG);
        }
        let number = |i: usize| parts.get(i).map_or(Ok(0), |p| p.parse::<u32>());
        let (Ok(h), Ok(m), Ok(s)) = (number(0), number(1), number(2)) else {
            return Err(WRONG);
        };
        if m > 59 || s > 59 {
            return Err(WRONG);
        }
        Self::from_seconds(h * 3600 + m * 60 + s).ok_or(WRONG)
    }

    pub fn from_seconds(seconds: u32) -> Option<Self> {
        (seconds <= DAY_SECONDS).then_some(Self(seconds))
    }

    pub fn seconds(self) -> u32 {
        self.0
    }
}

impl fmt::Display for ClockTime {
    /// `HH:MM`, or `HH:MM:SS` when the seconds are not zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.0 / 3600, self.0 / 60 % 60, self.0 % 60);
        if s == 0 {
            write!(f, "{h:02}:{m:02}")
        } else {
            write!(f, "{h:02}:{m:02}:{s:02}")
        }
    }
}

/// One opening span of a weekday: open from `opens` until `closes` (later the same day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub weekday: Weekday,
    pub opens: ClockTime,
    pub closes: ClockTime,
}

impl Span {
    pub fn new(
        weekday: Weekday,
        opens: ClockTime,
        closes: ClockTime,
    ) -> Result<Self, &'static str> {
        if opens >= closes {
            return Err("must close after it opens");
        }
        Ok(Self {
            weekday,
            opens,
            closes,
        })
    }
}

/// A day the business is closed, with its name ("New Year's Day").
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Holiday {
    pub day: NaiveDate,
    pub name: String,
}

/// A tenant's business hours.
#[derive(Clone, Debug, PartialEq)]
pub struct Calendar {
    pub timezone: TimeZoneName,
    /// Sorted by weekday and opening time; may be empty (open around the clock).
    pub spans: Vec<Span>,
    pub holidays: Vec<Holiday>,
}

impl Calendar {
    /// What a tenant without a calendar has: open 24/7 in UTC, no holidays.
    pub fn around_the_clock() -> Self {
        Self::new(
            TimeZoneName::parse("UTC").expect("UTC is a zone"),
            Vec::new(),
            Vec::new(),
        )
    }

    pub fn new(timezone: TimeZoneName, mut spans: Vec<Span>, mut holidays: Vec<Holiday>) -> Self {
        spans.sort();
        holidays.sort();
        holidays.dedup_by(|a, b| a.day == b.day);
        Self {
            timezone,
            spans,
            holidays,
        }
    }

    fn zone(&self) -> Tz {
        self.timezone.as_str().parse().unwrap_or(Tz::UTC)
    }

    /// The open intervals (in UTC) of one local day, in order; none on a holiday.
    fn open_intervals(
        &self,
        zone: Tz,
        day: NaiveDate,
        holidays: &BTreeSet<NaiveDate>,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if holidays.contains(&day) {
            return Vec::new();
        }
        let weekday = Weekday::of(day);
        let whole_day = [Span {
            weekday,
            opens: ClockTime(0),
            closes: ClockTime(DAY_SECONDS),
        }];
        let spans: Vec<&Span> = if self.spans.is_empty() {
            whole_day.iter().collect()
        } else {
            self.spans.iter().filter(|s| s.weekday == weekday).collect()
        };
        spans
            .into_iter()
            .map(|span| {
                (
                    instant(zone, day, span.opens, true),
                    instant(zone, day, span.closes, false),
                )
            })
            .filter(|(opens, closes)| opens < closes)
            .collect()
    }

    fn holiday_days(&self) -> BTreeSet<NaiveDate> {
        self.holidays.iter().map(|h| h.day).collect()
    }
}

/// The UTC instant of a local wall-clock time on `day` (24:00 is the next day's midnight).
fn instant(zone: Tz, day: NaiveDate, time: ClockTime, earliest: bool) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    let local: NaiveDateTime = midnight + Duration::seconds(i64::from(time.seconds()));
    // A time in a DST gap: the first minute after the gap (gaps are at most a few hours).
    for minutes in 0..=(24 * 60) {
        match zone.from_local_datetime(&(local + Duration::minutes(minutes))) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(a, b) => {
                return if earliest { a } else { b }.with_timezone(&Utc);
            }
            LocalResult::None => {}
        }
    }
    Utc.from_utc_datetime(&local)
}

/// How many local days the arithmetic walks at most: the longest a target can be away (an
/// SLA of 100,000 hours at one hour a week is far beyond it) never loops forever.
const MAX_DAYS: i64 = 366 * 200;

/// `start` plus `hours` of open time in the calendar's zone, skipping closed hours, weekends
/// without spans and holidays. When `start` falls in closed time, the count begins at the next
/// opening. Zero hours is `start` itself.
pub fn add_open_hours(calendar: &Calendar, start: DateTime<Utc>, hours: u32) -> DateTime<Utc> {
    let mut remaining = Duration::hours(i64::from(hours));
    if remaining.is_zero() {
        return start;
    }
    let zone = calendar.zone();
    let holidays = calendar.holiday_days();
    let mut cursor = start;
    let first = start.with_timezone(&zone).date_naive();
    for offset in 0..MAX_DAYS {
        let Some(day) = first.checked_add_signed(Duration::days(offset)) else {
            break;
        };
        for (opens, closes) in calendar.open_intervals(zone, day, &holidays) {
            if closes <= cursor {
                continue;
            }
            let from = opens.max(cursor);
            let available = closes - from;
            if remaining <= available {
                return from + remaining;
            }
            remaining -= available;
            cursor = closes;
        }
    }
    // Unreachable with any real calendar; counting the rest around the clock is the safe end.
    cursor + remaining
}

/// Open seconds of the calendar between `from` and `to` (0 when `to` is not after `from`):
/// how long an SLA clock ran, for pausing it while a ticket waits on the customer.
pub fn open_seconds_between(calendar: &Calendar, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    if to <= from {
        return 0;
    }
    let zone = calendar.zone();
    let holidays = calendar.holiday_days();
    let first = from.with_timezone(&zone).date_naive();
    let last = to.with_timezone(&zone).date_naive();
    let mut total = 0;
    // Counted up to here; overlapping spans count once.
    let mut counted = from;
    let mut day = first;
    while day <= last {
        for (opens, closes) in calendar.open_intervals(zone, day, &holidays) {
            let start = opens.max(counted);
            let end = closes.min(to);
            if end > start {
                total += (end - start).num_seconds();
                counted = end;
            }
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw)
            .expect("RFC 3339")
            .with_timezone(&Utc)
    }

    fn span(weekday: i64, opens: &str, closes: &str) -> Span {
        Span::new(
            Weekday::new(weekday).expect("valid in the test"),
            ClockTime::parse(opens).expect("valid in the test"),
            ClockTime::parse(closes).expect("valid in the test"),
        )
        .expect("valid in the test")
    }

    /// Monday to Friday, 09:00 to 17:00, in `zone`.
    fn office(zone: &str, holidays: &[&str]) -> Calendar {
        Calendar::new(
            TimeZoneName::parse(zone).expect("valid in the test"),
            (1..=5).map(|d| span(d, "09:00", "17:00")).collect(),
            holidays
                .iter()
                .map(|d| Holiday {
                    day: d.parse().expect("valid in the test"),
                    name: "Holiday".into(),
                })
                .collect(),
        )
    }

    #[test]
    fn clock_times_parse_and_print() {
        assert_eq!(
            ClockTime::parse("09:30")
                .expect("valid in the test")
                .seconds(),
            9 * 3600 + 1800
        );
        assert_eq!(
            ClockTime::parse("24:00")
                .expect("valid in the test")
                .to_string(),
            "24:00"
        );
        assert_eq!(
            ClockTime::parse("07:05:09")
                .expect("valid in the test")
                .to_string(),
            "07:05:09"
        );
        for wrong in ["24:01", "9:00", "12:60", "noon", "", "12"] {
            assert!(ClockTime::parse(wrong).is_err(), "{wrong}");
        }
        assert!(
            Span::new(
                Weekday::new(1).expect("valid in the test"),
                ClockTime(10),
                ClockTime(10)
            )
            .is_err()
        );
        assert!(Weekday::new(0).is_err() && Weekday::new(8).is_err());
    }

    #[test]
    fn within_one_open_day() {
        let calendar = office("UTC", &[]);
        // Monday 2026-11-23 10:00 + 4 h = 14:00.
        assert_eq!(
            add_open_hours(&calendar, utc("2026-11-23T10:00:00Z"), 4),
            utc("2026-11-23T14:00:00Z")
        );
    }

    #[test]
    fn across_a_weekend() {
        let calendar = office("UTC", &[]);
        // Friday 15:00 + 4 h: two hours on Friday, two on Monday.
        assert_eq!(
            add_open_hours(&calendar, utc("2026-11-27T15:00:00Z"), 4),
            utc("2026-11-30T11:00:00Z")
        );
        // Arriving on Saturday, the clock starts on Monday at opening.
        assert_eq!(
            add_open_hours(&calendar, utc("2026-11-28T12:00:00Z"), 1),
            utc("2026-11-30T10:00:00Z")
        );
        assert_eq!(
            open_seconds_between(
                &calendar,
                utc("2026-11-27T15:00:00Z"),
                utc("2026-11-30T11:00:00Z")
            ),
            4 * 3600
        );
    }

    #[test]
    fn a_holiday_is_skipped() {
        // Thursday 2026-12-24 and Friday 2026-12-25 closed.
        let calendar = office("Europe/Berlin", &["2026-12-24", "2026-12-25"]);
        // Wednesday 16:00 Berlin (15:00 UTC) + 3 h: one on Wednesday, two on Monday the 28th.
        assert_eq!(
            add_open_hours(&calendar, utc("2026-12-23T15:00:00Z"), 3),
            utc("2026-12-28T10:00:00Z")
        );
        assert_eq!(
            open_seconds_between(
                &calendar,
                utc("2026-12-23T00:00:00Z"),
                utc("2026-12-29T00:00:00Z")
            ),
            2 * 8 * 3600
        );
    }

    #[test]
    fn across_a_dst_change() {
        // Berlin leaves summer time on Sunday 2026-10-25: 09:00 is 07:00 UTC on Friday the
        // 23rd and 08:00 UTC on Monday the 26th.
        let calendar = office("Europe/Berlin", &[]);
        assert_eq!(
            add_open_hours(&calendar, utc("2026-10-23T14:00:00Z"), 2),
            utc("2026-10-26T09:00:00Z")
        );
        // Around the clock in Berlin: the night of 2026-03-29 has 23 hours, and open time is
        // real elapsed time.
        let around = Calendar::new(
            TimeZoneName::parse("Europe/Berlin").expect("valid in the test"),
            vec![],
            vec![],
        );
        assert_eq!(
            open_seconds_between(
                &around,
                utc("2026-03-28T23:00:00Z"),
                utc("2026-03-29T22:00:00Z")
            ),
            23 * 3600
        );
        // A span of 00:00–06:00 on the spring-forward night holds five hours.
        let night = Calendar::new(
            TimeZoneName::parse("Europe/Berlin").expect("valid in the test"),
            vec![span(7, "00:00", "06:00")],
            vec![],
        );
        assert_eq!(
            open_seconds_between(
                &night,
                utc("2026-03-28T00:00:00Z"),
                utc("2026-03-30T00:00:00Z")
            ),
            5 * 3600
        );
        // Opening in the gap (02:30 does not exist): open from 03:00 local (01:00 UTC).
        let gap = Calendar::new(
            TimeZoneName::parse("Europe/Berlin").expect("valid in the test"),
            vec![span(7, "02:30", "04:00")],
            vec![],
        );
        assert_eq!(
            add_open_hours(&gap, utc("2026-03-28T00:00:00Z"), 1),
            utc("2026-03-29T02:00:00Z")
        );
    }

    #[test]
    fn overnight() {
        // A night desk: Monday 22:00 to Tuesday 06:00 (two spans), in New York.
        let calendar = Calendar::new(
            TimeZoneName::parse("America/New_York").expect("valid in the test"),
            vec![span(1, "22:00", "24:00"), span(2, "00:00", "06:00")],
            vec![],
        );
        // Monday 2026-11-23 22:00 EST is 03:00 UTC on Tuesday; 5 h later: 03:00 EST = 08:00 UTC.
        assert_eq!(
            add_open_hours(&calendar, utc("2026-11-24T03:00:00Z"), 5),
            utc("2026-11-24T08:00:00Z")
        );
        // Eight open hours a week: 9 h from that Monday's opening ends a week later at 23:00.
        assert_eq!(
            add_open_hours(&calendar, utc("2026-11-24T03:00:00Z"), 9),
            utc("2026-12-01T04:00:00Z")
        );
        // A ticket arriving after the office closes waits for the next morning.
        let office = office("UTC", &[]);
        assert_eq!(
            add_open_hours(&office, utc("2026-11-24T20:00:00Z"), 2),
            utc("2026-11-25T11:00:00Z")
        );
    }

    #[test]
    fn no_opening_hours_is_around_the_clock() {
        let calendar = Calendar::around_the_clock();
        assert_eq!(
            add_open_hours(&calendar, utc("2026-11-28T12:00:00Z"), 48),
            utc("2026-11-30T12:00:00Z")
        );
        assert_eq!(
            open_seconds_between(
                &calendar,
                utc("2026-11-28T12:00:00Z"),
                utc("2026-11-28T12:30:00Z")
            ),
            1800
        );
        assert_eq!(
            open_seconds_between(
                &calendar,
                utc("2026-11-28T12:30:00Z"),
                utc("2026-11-28T12:00:00Z")
            ),
            0
        );
        // Holidays still close it.
        let closed_day = Calendar::new(
            TimeZoneName::parse("UTC").expect("valid in the test"),
            vec![],
            vec![Holiday {
                day: "2026-11-29".parse().expect("valid in the test"),
                name: "Closed".into(),
            }],
        );
        assert_eq!(
            add_open_hours(&closed_day, utc("2026-11-28T12:00:00Z"), 24),
            utc("2026-11-30T12:00:00Z")
        );
        assert_eq!(
            add_open_hours(&closed_day, utc("2026-11-28T12:00:00Z"), 0),
            utc("2026-11-28T12:00:00Z")
        );
    }

    #[test]
    fn overlapping_spans_count_once() {
        let calendar = Calendar::new(
            TimeZoneName::parse("UTC").expect("valid in the test"),
            vec![
                span(1, "09:00", "12:00"),
                span(1, "11:00", "14:00"),
                span(1, "10:00", "11:00"),
            ],
            vec![],
        );
        assert_eq!(
            add_open_hours(&calendar, utc("2026-11-23T00:00:00Z"), 5),
            utc("2026-11-23T14:00:00Z")
        );
        assert_eq!(
            open_seconds_between(
                &calendar,
                utc("2026-11-23T00:00:00Z"),
                utc("2026-11-24T00:00:00Z")
            ),
            5 * 3600
        );
    }
}
