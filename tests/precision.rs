//! The explicit bf16 option of the CPU GEMMs: close to float32 on the official fixture (its
//! trained weights), really different from it (the bf16 kernel ran), float32 restored exactly
//! when switched back, and refused on a CPU without AVX-512 BF16. Its own test binary: the
//! precision is process-wide.

mod common;

use burn::tensor::{Tensor, TensorData};
use stylenat::kernels::cpu::{self, Precision};
use stylenat::kernels::to_host;

#[test]
fn bf16_gemms_stay_close_to_float32_or_are_refused() {
    if !cpu::bf16_supported() {
        let err = cpu::set_precision(Precision::Bf16).unwrap_err().to_string();
        assert!(err.contains("AVX-512 BF16"), "{err}");
        assert_eq!(cpu::precision(), Precision::F32);
        println!("no AVX-512 BF16 here: the option is refused with: {err}");
        return;
    }
    let e = common::fixture_engine();
    let (num_ws, d) = (e.config().num_ws(), e.config().style_dim);
    let z = e.z_for_seeds(&[5, 6], Default::default()).unwrap();
    let w = e.broadcast(&e.map(&z).unwrap());
    let render = || {
        let t = Tensor::<3>::from_data(
            TensorData::new(w.data.clone(), [2, num_ws, d]),
            &e.backend.device,
        );
        to_host(e.generator.synthesize(t, &mut ()).unwrap()).unwrap()
    };
    let exact = render();
    cpu::set_precision(Precision::Bf16).unwrap();
    let reduced = render();
    cpu::set_precision(Precision::F32).unwrap();
    let again = render();
    assert!(
        exact
            .iter()
            .zip(&again)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "float32 is not restored exactly after bf16"
    );
    let (mut max, mut sq) = (0f64, 0f64);
    for (&a, &b) in exact.iter().zip(&reduced) {
        let d = (a as f64 - b as f64).abs();
        max = max.max(d);
        sq += d * d;
    }
    let psnr = 20.0 * (2.0 / (sq / exact.len() as f64).sqrt()).log10();
    println!("bf16 vs float32 on the fixture: max |Δ| {max:.2e}, {psnr:.1} dB PSNR");
    // Measured 44.5 dB; a kernel that rounded wrongly (or summed in bf16) lands far below.
    assert!(psnr > 38.0, "bf16 image {psnr:.1} dB from float32");
    assert!(
        max > 1e-5,
        "bf16 output equals float32: the bf16 kernel did not run"
    );
}
