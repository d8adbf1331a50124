//! Python eventsourcing's JSON forms for UUIDs, decimals and datetimes.
//!
//! Python stores these as `{"_type_": NAME, "_data_": VALUE}`: `uuid_hex` (32 lowercase hex
//! digits), `decimal_str` (`str(Decimal)`, e.g. `"10.50"`, `"1E-7"`) and `datetime_iso`
//! (`datetime.isoformat()`: microseconds only when non-zero, offset as `+00:00`).
//! Floats (`f32`, `f64`) keep JSON's own form, but NaN and infinities are refused when
//! written instead of turning into `null`.
//! `#[aggregate]` applies this module to event arguments of those types (also inside
//! `Option` and `Vec`); use it yourself with
//! `#[serde(with = "eventsourcing_dynamodb::transcoding")]` on fields of your own types
//! (and of aggregate state structs).

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};
use uuid::Uuid;

/// A value with a Python JSON form.
pub trait ToPy {
    /// Writes the value in its Python form.
    fn to_py<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;
}

/// A value read from its Python JSON form.
pub trait FromPy: Sized {
    /// Reads the value from its Python form (plain strings are accepted too).
    fn from_py<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error>;
}

/// For `#[serde(with = "...::py")]`.
pub fn serialize<T: ToPy + ?Sized, S: Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    value.to_py(serializer)
}

/// For `#[serde(with = "...::py")]`.
pub fn deserialize<'de, T: FromPy, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
    T::from_py(deserializer)
}

fn tagged<S: Serializer>(serializer: S, kind: &str, data: &str) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(2))?;
    map.serialize_entry("_type_", kind)?;
    map.serialize_entry("_data_", data)?;
    map.end()
}

/// Reads either `{"_type_": kind, "_data_": "..."}` or a plain string. Every stored event
/// has a few of these, so nothing is allocated when the text can be borrowed from the input.
fn untag<'de, D: Deserializer<'de>>(
    deserializer: D,
    kind: &'static str,
) -> Result<Cow<'de, str>, D::Error> {
    struct Tagged(&'static str);
    impl<'de> Visitor<'de> for Tagged {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "{{\"_type_\": \"{}\", \"_data_\": ...}} or a string", self.0)
        }
        fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(value))
        }
        fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(value.to_owned()))
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
            let mut kind: Option<Text<'de>> = None;
            let mut data: Option<Text<'de>> = None;
            while let Some(key) = map.next_key::<Text<'de>>()? {
                match &*key.0 {
                    "_type_" => kind = Some(map.next_value()?),
                    "_data_" => data = Some(map.next_value()?),
                    other => return Err(de::Error::unknown_field(other, &["_type_", "_data_"])),
                }
            }
            match (kind, data) {
                (Some(kind), Some(data)) if kind.0 == self.0 => Ok(data.0),
                (Some(kind), Some(_)) => Err(de::Error::custom(format!(
                    "expected a {} value, found _type_ {:?}",
                    self.0, kind.0
                ))),
                _ => Err(de::Error::custom("a Python custom value needs _type_ and _data_")),
            }
        }
    }
    deserializer.deserialize_any(Tagged(kind))
}

/// A string, borrowed from the input when it has no escapes.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(value)))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(value.to_owned())))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

impl ToPy for Uuid {
    fn to_py<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        tagged(serializer, "uuid_hex", self.simple().encode_lower(&mut Uuid::encode_buffer()))
    }
}

impl FromPy for Uuid {
    fn from_py<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = untag(deserializer, "uuid_hex")?;
        Uuid::parse_str(&text)
            .map_err(|e| de::Error::custom(format!("invalid uuid_hex {text:?}: {e}")))
    }
}

impl ToPy for Decimal {
    fn to_py<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        tagged(serializer, "decimal_str", &decimal_str(self))
    }
}

/// `str(Decimal)` in Python: plain notation (keeping trailing zeros, `"10.50"`) unless the
/// adjusted exponent is below -6, then scientific (`"1E-7"`, `"1.5E-10"`, `"0E-7"`).
pub fn decimal_str(value: &Decimal) -> String {
    let digits = value.mantissa().unsigned_abs().to_string();
    let scale = value.scale() as usize;
    let mut out = String::with_capacity(digits.len() + 8);
    if value.is_sign_negative() {
        out.push('-');
    }
    // Python's adjusted exponent: exponent (-scale) + number of digits - 1.
    let adjusted = digits.len() as i64 - 1 - scale as i64;
    if adjusted >= -6 {
        if scale == 0 {
            out.push_str(&digits);
        } else if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', scale - digits.len()));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format!("E{adjusted}"));
    }
    out
}

impl FromPy for Decimal {
    fn from_py<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = untag(deserializer, "decimal_str")?;
        // Exactly or not at all: Python's Decimal has any precision, rust_decimal 28
        // fractional digits, and a rounded amount would be silently wrong.
        let mut value = Decimal::from_str_exact(&text)
            .or_else(|_| Decimal::from_scientific(&text))
            .map_err(|e| de::Error::custom(format!("invalid decimal_str {text:?}: {e}")))?;
        if value.is_zero() && text.starts_with('-') {
            // Python keeps the sign of zero ("-0", "-0.00"); the parser drops it.
            value.set_sign_negative(true);
        }
        Ok(value)
    }
}

const ISO_PARSE_OFFSET: &[BorrowedFormatItem<'_>] = format_description!(
    "[year]-[month]-[day][first [T] [ ]][hour]:[minute]:[second][optional [.[subsecond]]][offset_hour sign:mandatory]:[offset_minute][optional [:[offset_second]]]"
);
const ISO_PARSE_NAIVE: &[BorrowedFormatItem<'_>] = format_description!(
    "[year]-[month]-[day][first [T] [ ]][hour]:[minute]:[second][optional [.[subsecond]]]"
);

/// `datetime.isoformat()` of a timestamp: `2026-11-27T01:52:58.078379+00:00`, without the
/// fraction when it is zero, and with the offset's seconds when it has some (`+05:30:15`).
pub fn format_iso(timestamp: &OffsetDateTime) -> String {
    IsoText::new(timestamp).as_str().to_owned()
}

/// The text of [`format_iso`] on the stack: every event's timestamp is written with it, so
/// it neither allocates nor interprets a format description (that was 14% of the
/// instructions of an in-memory command).
struct IsoText {
    bytes: [u8; 48],
    len: usize,
}

impl IsoText {
    fn new(timestamp: &OffsetDateTime) -> Self {
        let mut text = IsoText { bytes: [0; 48], len: 0 };
        let year = timestamp.year();
        if year < 0 {
            text.push(b'-');
        }
        text.number(year.unsigned_abs(), 4);
        text.push(b'-');
        text.number(u8::from(timestamp.month()).into(), 2);
        text.push(b'-');
        text.number(timestamp.day().into(), 2);
        text.push(b'T');
        text.number(timestamp.hour().into(), 2);
        text.push(b':');
        text.number(timestamp.minute().into(), 2);
        text.push(b':');
        text.number(timestamp.second().into(), 2);
        let micros = timestamp.nanosecond() / 1_000;
        if micros != 0 {
            text.push(b'.');
            text.number(micros, 6);
        }
        let (hours, minutes, seconds) = timestamp.offset().as_hms();
        text.push(if timestamp.offset().is_negative() { b'-' } else { b'+' });
        text.number(hours.unsigned_abs().into(), 2);
        text.push(b':');
        text.number(minutes.unsigned_abs().into(), 2);
        if seconds != 0 {
            text.push(b':');
            text.number(seconds.unsigned_abs().into(), 2);
        }
        text
    }

    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// `value` in decimal, zero-padded to `width` digits.
    fn number(&mut self, mut value: u32, width: usize) {
        let mut digits = [b'0'; 10];
        let mut start = digits.len();
        while value > 0 || start > digits.len() - width {
            start -= 1;
            digits[start] = b'0' + (value % 10) as u8;
            value /= 10;
        }
        for &digit in &digits[start..] {
            self.push(digit);
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation were pushed.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

/// Reads what `datetime.isoformat()` writes (a `Z` suffix too; no offset means UTC).
pub fn parse_iso(text: &str) -> Result<OffsetDateTime, time::error::Parse> {
    if let Some(timestamp) = parse_event_timestamp(text) {
        return Ok(timestamp);
    }
    let zulu;
    let text = match text.strip_suffix('Z') {
        Some(local) => {
            zulu = format!("{local}+00:00");
            zulu.as_str()
        }
        None => text,
    };
    OffsetDateTime::parse(text, ISO_PARSE_OFFSET).or_else(|_| {
        PrimitiveDateTime::parse(text, ISO_PARSE_NAIVE).map(|t| t.assume_offset(UtcOffset::UTC))
    })
}

/// The form every event timestamp has, `2026-11-27T01:52:58.078379+00:00`, read without
/// interpreting a format description (which took a third of the time to decode an event);
/// anything else is left to the general parser.
fn parse_event_timestamp(text: &str) -> Option<OffsetDateTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u32> {
        bytes[from..to].iter().try_fold(0u32, |value, &byte| {
            byte.is_ascii_digit().then(|| value * 10 + u32::from(byte - b'0'))
        })
    };
    let punctuation =
        [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'.'), (29, b':')];
    if punctuation.iter().any(|&(at, byte)| bytes[at] != byte) {
        return None;
    }
    let sign = match bytes[26] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let date = time::Date::from_calendar_date(
        i32::try_from(number(0, 4)?).ok()?,
        time::Month::try_from(u8::try_from(number(5, 7)?).ok()?).ok()?,
        u8::try_from(number(8, 10)?).ok()?,
    )
    .ok()?;
    let time = time::Time::from_hms_micro(
        u8::try_from(number(11, 13)?).ok()?,
        u8::try_from(number(14, 16)?).ok()?,
        u8::try_from(number(17, 19)?).ok()?,
        number(20, 26)?,
    )
    .ok()?;
    let offset = UtcOffset::from_hms(
        sign * i8::try_from(number(27, 29)?).ok()?,
        sign * i8::try_from(number(30, 32)?).ok()?,
        0,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

impl ToPy for OffsetDateTime {
    fn to_py<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        tagged(serializer, "datetime_iso", IsoText::new(self).as_str())
    }
}

impl FromPy for OffsetDateTime {
    fn from_py<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = untag(deserializer, "datetime_iso")?;
        parse_iso(&text)
            .map_err(|e| de::Error::custom(format!("invalid datetime_iso {text:?}: {e}")))
    }
}

/// Floats: JSON has no NaN or infinity. serde_json would write them as `null`, which no
/// `f64` reads back, so the aggregate could never load again; writing fails instead, and
/// the save that carried the value stores nothing.
macro_rules! finite_floats {
    ($($float:ty),*) => {$(
        impl ToPy for $float {
            fn to_py<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if !self.is_finite() {
                    return Err(serde::ser::Error::custom(format!(
                        "{} {self} cannot be stored: JSON has no NaN or infinity",
                        stringify!($float)
                    )));
                }
                self.serialize(serializer)
            }
        }

        impl FromPy for $float {
            fn from_py<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <$float>::deserialize(deserializer)
            }
        }
    )*};
}

finite_floats!(f32, f64);

impl<T: ToPy + ?Sized> ToPy for &T {
    fn to_py<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).to_py(serializer)
    }
}

/// Serializes a value in its Python form, e.g. `AsPython(&timestamp)`.
pub struct AsPython<'a, T: ?Sized>(pub &'a T);

impl<T: ToPy + ?Sized> Serialize for AsPython<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.to_py(serializer)
    }
}

struct FromPyValue<T>(T);

impl<'de, T: FromPy> Deserialize<'de> for FromPyValue<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::from_py(deserializer).map(FromPyValue)
    }
}

impl<T: ToPy> ToPy for Option<T> {
    fn to_py<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Some(value) => serializer.serialize_some(&AsPython(value)),
            None => serializer.serialize_none(),
        }
    }
}

impl<T: FromPy> FromPy for Option<T> {
    fn from_py<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<FromPyValue<T>>::deserialize(deserializer)?.map(|v| v.0))
    }
}

impl<T: ToPy> ToPy for Vec<T> {
    fn to_py<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(AsPython))
    }
}

impl<T: FromPy> FromPy for Vec<T> {
    fn from_py<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Vec::<FromPyValue<T>>::deserialize(deserializer)?.into_iter().map(|v| v.0).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Sample {
        #[serde(with = "crate::transcoding")]
        id: Uuid,
        #[serde(with = "crate::transcoding")]
        amount: Decimal,
        #[serde(with = "crate::transcoding")]
        at: OffsetDateTime,
        #[serde(with = "crate::transcoding")]
        maybe: Option<Uuid>,
        #[serde(with = "crate::transcoding")]
        many: Vec<Decimal>,
    }

    #[test]
    fn writes_python_forms() {
        let sample = Sample {
            id: Uuid::from_u128(0xff),
            amount: "10.50".parse().unwrap(),
            at: parse_iso("2024-01-02T03:04:05+00:00").unwrap(),
            maybe: None,
            many: vec!["1.0".parse().unwrap()],
        };
        let json = serde_json::to_string(&sample).unwrap();
        assert_eq!(
            json,
            r#"{"id":{"_type_":"uuid_hex","_data_":"000000000000000000000000000000ff"},"amount":{"_type_":"decimal_str","_data_":"10.50"},"at":{"_type_":"datetime_iso","_data_":"2024-01-02T03:04:05+00:00"},"maybe":null,"many":[{"_type_":"decimal_str","_data_":"1.0"}]}"#
        );
        assert_eq!(serde_json::from_str::<Sample>(&json).unwrap(), sample);
    }

    #[test]
    fn datetimes_round_trip_like_python() {
        for text in [
            "2026-11-27T01:52:58.078379+00:00",
            "2024-01-02T03:04:05+00:00",
            "2024-01-02T03:04:05.000001+02:00",
            "2024-01-02T03:04:05.120000+05:30:15",
            "9999-12-31T23:59:59.999999-00:30",
            "0001-01-01T00:00:00-05:30",
            "2024-01-02T03:04:05.000001-05:30",
            "2024-02-29T23:59:59.999999-00:30",
        ] {
            assert_eq!(format_iso(&parse_iso(text).unwrap()), text);
        }
        assert_eq!(
            format_iso(&parse_iso("2024-01-02T03:04:05.5Z").unwrap()),
            "2024-01-02T03:04:05.500000+00:00"
        );
        assert_eq!(
            format_iso(&parse_iso("2024-01-02 03:04:05").unwrap()),
            "2024-01-02T03:04:05+00:00"
        );
        assert!(parse_iso("yesterday").is_err());
        for invalid in ["2023-02-29T03:04:05.000001+00:00", "2024-01-02T24:04:05.000001+00:00"] {
            assert!(parse_iso(invalid).is_err(), "{invalid}");
        }
    }

    #[test]
    fn decimals_beyond_28_fractional_digits_are_refused_not_rounded() {
        let read = |text: &str| {
            let json = format!(r#"{{"_type_":"decimal_str","_data_":"{text}"}}"#);
            Decimal::from_py(&mut serde_json::Deserializer::from_str(&json))
        };
        assert_eq!(
            read("0.0000000000000000000000000001").unwrap().to_string(),
            "0.0000000000000000000000000001"
        );
        let error = read("0.00000000000000000000000000001").unwrap_err().to_string();
        assert!(error.contains("invalid decimal_str"), "{error}");
        assert!(read("1E-29").is_err());
        assert_eq!(read("1E+2").unwrap(), Decimal::from(100));
    }

    #[test]
    fn decimals_are_written_as_python_str_writes_them() {
        // (text read, Python's str(Decimal(text)))
        for (text, python) in [
            ("10.50", "10.50"),
            ("0.05", "0.05"),
            ("-0.05", "-0.05"),
            ("0", "0"),
            ("-0", "-0"),
            ("-0.00", "-0.00"),
            ("0.0", "0.0"),
            ("100", "100"),
            ("0.000001", "0.000001"),
            ("0.0000010", "0.0000010"),
            ("0.0000001", "1E-7"),
            ("-0.00000012", "-1.2E-7"),
            ("0.0000000", "0E-7"),
            ("1E-7", "1E-7"),
            ("1.5E-10", "1.5E-10"),
            ("123456789.123456789", "123456789.123456789"),
        ] {
            let stored = format!(r#"{{"_type_":"decimal_str","_data_":"{text}"}}"#);
            let value = serde_json::from_str::<FromPyValue<Decimal>>(&stored).unwrap().0;
            assert_eq!(decimal_str(&value), python, "{text}");
            let json = serde_json::to_string(&AsPython(&value)).unwrap();
            assert_eq!(json, format!(r#"{{"_type_":"decimal_str","_data_":"{python}"}}"#));
            let back: FromPyValue<Decimal> = serde_json::from_str(&json).unwrap();
            assert_eq!(back.0, value);
            assert_eq!(decimal_str(&back.0), python, "{text} read back");
        }
    }

    #[test]
    fn rejects_wrong_custom_types() {
        let wrong = r#"{"_type_":"decimal_str","_data_":"1"}"#;
        let error = serde_json::from_str::<FromPyValue<Uuid>>(wrong).err().unwrap();
        assert!(error.to_string().contains("expected a uuid_hex value"), "{error}");
    }
}
