use super::*;

#[test]
fn numbers_read_naturally() {
    assert_eq!(
        [0, 999, 1_000, 35_317, 1_234_567].map(thousands),
        ["0", "999", "1,000", "35,317", "1,234,567"]
    );
    assert_eq!((times(5.0), times(2.5), times(0.999)), ("×5".into(), "×2.5".into(), "×1".into()));
    assert_eq!((milliseconds(0.0165), milliseconds(50.04)), ("0.017 ms".into(), "50.0 ms".into()));
}
