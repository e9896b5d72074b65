//! AFL target: a flags byte and a Produce request's records. See `fjord_fuzz::records`.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = fjord_fuzz::records(data);
    });
}
