//! AFL target: one request frame (without its length prefix). See `fjord_fuzz::request`.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = fjord_fuzz::request(data);
    });
}
