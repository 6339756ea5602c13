//! Parameters by path (`layers.0.blocks.1.attn.qkv.weight`, from burn's module visitor), so
//! optimiser moments, the EMA copy and training checkpoints are keyed by name rather than by
//! random parameter ids, and checkpoints resume exactly.

use crate::error::{Error, Result};
use crate::kernels::to_host;
use crate::tensor::{HostTensor, WeightMap};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};

/// The dotted path of the module being visited (maintained from enter/exit callbacks).
#[derive(Default)]
pub struct Path(Vec<String>);

impl Path {
    pub fn push(&mut self, name: &str) {
        self.0.push(name.to_string());
    }
    pub fn pop(&mut self) {
        self.0.pop();
    }
    pub fn name(&self) -> String {
        self.0.join(".")
    }
}

/// Every float parameter, flattened, without autodiff.
pub fn flat_params<M: Module>(module: &M) -> Vec<(String, Tensor<1>)> {
    struct Collect {
        path: Path,
        out: Vec<(String, Tensor<1>)>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name);
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val().without_autodiff();
            let n = t.shape().num_elements();
            self.out.push((self.path.name(), t.reshape([n])));
        }
    }
    let mut c = Collect {
        path: Path::default(),
        out: Vec::new(),
    };
    module.visit(&mut c);
    c.out
}

/// Every float parameter copied to the host, keyed `prefix` + path.
pub fn host_params<M: Module>(module: &M, prefix: &str, out: &mut WeightMap) -> Result<()> {
    for (name, t) in flat_params(module) {
        let n = t.dims()[0];
        out.insert(
            format!("{prefix}{name}"),
            HostTensor::new(vec![n], to_host(t)?),
        );
    }
    Ok(())
}

/// Rewrites every float parameter with `f(path, flat value)`; the result keeps the
/// parameter's id and shape and, with `trainable`, becomes a fresh autodiff leaf that
/// requires a gradient (after the reshape, so gradients land on the parameter itself).
/// Errors from `f` are returned after the walk.
pub fn map_params<M: Module>(
    module: M,
    trainable: bool,
    f: &mut dyn FnMut(&str, Tensor<1>) -> Result<Tensor<1>>,
) -> Result<M> {
    struct Map<'a> {
        path: Path,
        trainable: bool,
        f: &'a mut dyn FnMut(&str, Tensor<1>) -> Result<Tensor<1>>,
        error: Option<Error>,
    }
    impl ModuleMapper for Map<'_> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name);
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if self.error.is_some() {
                return param;
            }
            let name = self.path.name();
            let (f, error, trainable) = (&mut self.f, &mut self.error, self.trainable);
            param.map(|t| {
                let shape = t.shape();
                let n = shape.num_elements();
                match f(&name, t.clone().without_autodiff().reshape([n])) {
                    Ok(v) if v.dims() == [n] => {
                        let v = v.without_autodiff().reshape(shape);
                        match trainable {
                            true => v.autodiff().require_grad(),
                            false => v,
                        }
                    }
                    Ok(v) => {
                        *error = Some(Error::Input(format!(
                            "parameter `{name}` has {n} values, got {}",
                            v.dims()[0]
                        )));
                        t
                    }
                    Err(e) => {
                        *error = Some(e);
                        t
                    }
                }
            })
        }
    }
    let mut m = Map {
        path: Path::default(),
        trainable,
        f,
        error: None,
    };
    let module = module.map(&mut m);
    match m.error {
        Some(e) => Err(e),
        None => Ok(module),
    }
}

/// Sets every parameter from `map[prefix + path]` (shape-checked), on `module`'s device.
pub fn load_params<M: Module>(module: M, map: &WeightMap, prefix: &str) -> Result<M> {
    map_params(module, false, &mut |name, t| {
        let key = format!("{prefix}{name}");
        let v = map
            .get(&key)
            .ok_or_else(|| Error::MissingTensor { name: key.clone() })?;
        if v.data.len() != t.dims()[0] {
            return Err(Error::ShapeMismatch {
                name: key,
                expected: vec![t.dims()[0]],
                actual: v.shape.clone(),
            });
        }
        let device = t.device();
        Ok(Tensor::from_data(
            TensorData::new(v.data.clone(), [v.data.len()]),
            &device,
        ))
    })
}

/// Parameters as trainable autodiff leaves.
pub fn trainable<M: Module>(module: M) -> Result<M> {
    map_params(module, true, &mut |_, t| Ok(t))
}
