use mlamp::se::{SeOptions, StateEvolution, StartCode};
use mlamp::Model;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let m = Model::from_file(&path).unwrap();
    let se = StateEvolution::new(&m, SeOptions::default()).unwrap();
    let d = se.depth();
    for c in StartCode::all(d) {
        let t = std::time::Instant::now();
        let p = se.fixed_point_from(&c.starts(d));
        eprintln!("{} it {} conv {} mse {:?} phi {} {:.2}s", c.label(d), p.iterations, p.converged, p.mse, p.free_energy, t.elapsed().as_secs_f64());
    }
}
