//! Any bytes as a JSON document (a header or claims): the parse, with its exact reading of
//! numbers and escapes, never panics, and every value it gives walks and renders.
#![no_main]
use fleet_attest::json::{first_duplicate_key, Json, JsonBuffers, Kind};

fn walk(value: Json<'_, '_>, out: &mut String) {
    match value.kind() {
        Kind::Object => value.members().for_each(|(_, member)| walk(member, out)),
        Kind::Array => value.elements().for_each(|element| walk(element, out)),
        Kind::Number => {
            let number = value.as_number().expect("a number node reads as a number");
            number.render(out);
            let _ = number.as_f64();
        }
        _ => {
            value.render_scalar(out);
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let mut buffers = JsonBuffers::default();
    if let Ok(tape) = buffers.parse_text(data, &mut first, &mut second) {
        let _ = first_duplicate_key(&tape);
        let _ = fleet_attest::json::deeper_than(&tape, 32);
        let mut out = String::new();
        walk(Json::root(&tape), &mut out);
    }
});
