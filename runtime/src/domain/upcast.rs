//! Class versions and upcasting of stored states, as Python eventsourcing does them.
//!
//! An event (or aggregate) class declared with `version = N` (Python's `class_version`)
//! stores `"class_version": N` as the last key of its state's JSON object when `N > 1`;
//! version 1 stores no key, and a state without the key is version 1. A state stored by
//! an older version is upgraded on read by the class's upcasters, one version at a time
//! (Python's `upcast_v1_v2`, `upcast_v2_v3`, …), before it is deserialized. A state
//! stored by a *newer* version than the program knows is an error, not silently misread.
//!
//! `#[aggregate]` generates the calls for events; snapshot code uses
//! [`AggregateState::upcast_state`](super::AggregateState::upcast_state) and
//! [`append_class_version`] for aggregate states.

use crate::persistence::DecodeProblem;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The key under which a state's class version is stored.
pub const CLASS_VERSION_KEY: &str = "class_version";

/// A stored state's JSON object, as upcasters see it.
pub type StateObject = Map<String, Value>;

/// An upcaster: upgrades a stored state, in place, from one class version to the next
/// (e.g. adds a field with its default). Listed in `upcast = [...]`.
pub type Upcaster = fn(&mut StateObject);

/// Removes the `class_version` key from `state` (absent means 1) and applies the upcast
/// steps from that version up to `current`: `step(v, state)` upgrades version `v` to
/// `v + 1`. Afterwards `state` is a state of version `current`, without the key.
///
/// `what` names the class in errors (e.g. ``"event `ProfileEvent::Renamed`"``). Fails,
/// leaving `state` without the key, if the stored version is newer than `current` or is
/// not a whole number from 1.
pub fn upcast_object(
    state: &mut StateObject,
    current: u32,
    what: impl std::fmt::Display,
    step: impl Fn(u32, &mut StateObject),
) -> Result<(), String> {
    let stored = match state.remove(CLASS_VERSION_KEY) {
        None => 1,
        Some(value) => match value.as_u64().and_then(|v| u32::try_from(v).ok()) {
            Some(version) if version >= 1 => version,
            _ => {
                return Err(format!(
                    "{what} has \"{CLASS_VERSION_KEY}\": {value}, which is not a class version (a whole number from 1)"
                ))
            }
        },
    };
    if stored > current {
        return Err(format!(
            "{what} was stored with class_version {stored}, but this program knows it only up to version {current}: read it with a program that has version {stored}"
        ));
    }
    for version in stored..current {
        step(version, state);
    }
    Ok(())
}

/// Decodes a stored state of a class of version `current` into `S`, upcasting it first if
/// it was stored by an older version. Used by the code `#[aggregate]` generates.
///
/// `S` must read the `class_version` key as an optional field, which `stored_version`
/// returns. A state that (by its last key) is already of version `current` is deserialized
/// directly from `bytes`; only older (or unusual) states go through a
/// [`serde_json::Value`], where [`upcast_object`] upgrades them with `step`.
pub fn decode_state<S: DeserializeOwned>(
    bytes: &[u8],
    current: u32,
    what: &str,
    stored_version: impl Fn(&S) -> Option<u32>,
    step: impl Fn(u32, &mut StateObject),
) -> Result<S, DecodeProblem> {
    let expected = if current == 1 { None } else { Some(current) };
    if trailing_class_version(bytes) == expected {
        // One UTF-8 check of the whole state is cheaper than serde_json's check of each string
        // in it; invalid UTF-8 goes the slow way below, which names the error.
        let state = std::str::from_utf8(bytes).map(serde_json::from_str::<S>);
        if let Ok(Ok(state)) = state {
            if stored_version(&state).unwrap_or(1) == current {
                return Ok(state);
            }
        }
    }
    let mut object: StateObject = serde_json::from_slice(bytes)?;
    upcast_object(&mut object, current, what, step).map_err(DecodeProblem::Version)?;
    Ok(serde_json::from_value(Value::Object(object))?)
}

/// The class version that the last key of a JSON object states, where Python (and this
/// library) write it: `Some(n)` for an object ending in `"class_version":n}`, `None`
/// otherwise. A cheap hint only: the key may be elsewhere in the object.
pub fn trailing_class_version(json: &[u8]) -> Option<u32> {
    let rest = json.trim_ascii_end().strip_suffix(b"}")?.trim_ascii_end();
    let digits = rest.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let (rest, number) = rest.split_at(rest.len() - digits);
    let rest = rest.trim_ascii_end().strip_suffix(b":")?.trim_ascii_end();
    rest.strip_suffix(br#""class_version""#)?;
    std::str::from_utf8(number).ok()?.parse().ok()
}

/// Appends `"class_version": version` as the last key of the JSON object in `json`, as
/// Python does when the class version is above 1; does nothing for version 1.
///
/// For snapshot writers: encode the aggregate's state object, then call this with
/// [`AggregateState::CLASS_VERSION`](super::AggregateState::CLASS_VERSION). Fails (leaving
/// `json` unchanged) if `json` does not end with an object's closing `}`.
pub fn append_class_version(json: &mut Vec<u8>, version: u32) -> Result<(), String> {
    if version <= 1 {
        return Ok(());
    }
    let end = json.trim_ascii_end().len();
    if end == 0 || json[end - 1] != b'}' {
        return Err(String::from("the state to add a class_version to is not a JSON object"));
    }
    json.truncate(end - 1);
    let empty = json.trim_ascii_end().last() == Some(&b'{');
    let separator = if empty { "" } else { "," };
    json.extend_from_slice(format!("{separator}\"{CLASS_VERSION_KEY}\":{version}}}").as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trailing_version_is_read_from_the_last_key_only() {
        assert_eq!(trailing_class_version(br#"{"a":1,"class_version":2}"#), Some(2));
        assert_eq!(trailing_class_version(br#"{"a":1, "class_version" : 12 } "#), Some(12));
        assert_eq!(trailing_class_version(br#"{"class_version":3}"#), Some(3));
        assert_eq!(trailing_class_version(br#"{"a":1}"#), None);
        assert_eq!(trailing_class_version(br#"{"a":{"class_version":2}}"#), None);
        assert_eq!(trailing_class_version(br#"{"xclass_version":2}"#), None);
        assert_eq!(trailing_class_version(b""), None);
    }

    #[test]
    fn class_version_is_appended_as_the_last_key() {
        let mut json = br#"{"name":"Robert"}"#.to_vec();
        append_class_version(&mut json, 2).unwrap();
        assert_eq!(json, br#"{"name":"Robert","class_version":2}"#);
        let mut empty = b"{}".to_vec();
        append_class_version(&mut empty, 3).unwrap();
        assert_eq!(empty, br#"{"class_version":3}"#);
        let mut v1 = b"{}".to_vec();
        append_class_version(&mut v1, 1).unwrap();
        assert_eq!(v1, b"{}");
        assert!(append_class_version(&mut b"[1]".to_vec(), 2).is_err());
    }

    #[test]
    fn steps_run_in_order_from_the_stored_version() {
        let step = |from: u32, state: &mut StateObject| {
            let trail = state["trail"].as_str().unwrap_or_default().to_owned();
            state.insert("trail".into(), json!(format!("{trail}{from}")));
        };
        let mut state = json!({"trail": "", "class_version": 2}).as_object().unwrap().clone();
        upcast_object(&mut state, 5, "x", step).unwrap();
        assert_eq!(Value::Object(state), json!({"trail": "234"}));
        let mut state = json!({"trail": ""}).as_object().unwrap().clone();
        upcast_object(&mut state, 3, "x", step).unwrap();
        assert_eq!(Value::Object(state), json!({"trail": "12"}));
    }

    #[test]
    fn newer_or_invalid_versions_are_errors() {
        let mut state = json!({"class_version": 4}).as_object().unwrap().clone();
        let error = upcast_object(&mut state, 3, "event `E::X`", |_, _| {}).unwrap_err();
        assert!(error.contains("event `E::X` was stored with class_version 4"), "{error}");
        for bad in [json!(0), json!("2"), json!(1.5), json!(-1)] {
            let mut state = json!({"class_version": bad}).as_object().unwrap().clone();
            assert!(upcast_object(&mut state, 3, "x", |_, _| {}).is_err());
        }
    }
}
