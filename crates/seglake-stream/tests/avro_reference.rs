//! The Avro reader and writer against fastavro: every message of
//! `fixtures/avro_reference.json` (written by `fixtures/make_avro_reference.py`)
//! reads as the record fastavro encoded, and writing that record gives
//! fastavro's bytes.

use seglake_stream::avro::AvroSchema;
use serde_json::Value;

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn fastavros_messages_read_as_its_records_and_write_back_byte_for_byte() {
    let reference: Value =
        serde_json::from_str(include_str!("fixtures/avro_reference.json")).unwrap();
    let id = reference["schema_id"].as_u64().unwrap() as u32;
    let schema = AvroSchema::parse(&reference["schema"].to_string(), Some(id)).unwrap();
    let messages = reference["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    for m in messages {
        let message = bytes(m["hex"].as_str().unwrap());
        let expected = m["json"].as_object().unwrap();
        let read = schema.read_message(&message).unwrap();
        assert_eq!(&read, expected, "{}", m["hex"]);
        assert_eq!(
            schema.write_message(expected).unwrap(),
            message,
            "{}",
            m["hex"]
        );
    }
}
