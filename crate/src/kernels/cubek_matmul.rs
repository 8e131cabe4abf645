//! For the benchmark only: cubek's unit matmul routines launched with a fixed strategy
//! (`launch_ref`), the other route the issue proposed besides an own kernel. Not differentiable
//! and not used by the lab; the bench times it beside `matmul` (README "Benchmarks").

use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use burn::backend::{backend_extension, Backend, Dispatch, Flex};
use burn::tensor::{DType, Tensor};
use cubek::matmul::definition::{MatmulElems, MatmulGlobalElems};
use cubek::matmul::multi_level::routines::batch::double_unit::DoubleUnitSelectionArgs;
use cubek::matmul::multi_level::routines::batch::simple_unit::SimpleUnitSelectionArgs;
use cubek::matmul::multi_level::routines::TileSizeSelection;
use cubek::matmul::multi_level::Strategy as Routine;
use cubek::matmul::routine::BlueprintStrategy;
use cubek::matmul::strategy::Strategy;
use cubek::std::InputBinding;

use super::matmul::product_shape;
use super::matmul_wgpu::empty_f32;

#[backend_extension(Cube, Flex, Fusion)]
pub trait CubekMatmul: Backend {
    /// A B through cubek's `DoubleUnit` (`double`) or `SimpleUnit` routine with the smallest
    /// tile; NaN everywhere when cubek refuses the set-up, so the bench cannot time a fallback.
    #[fusion(dtype = lhs, shape = product_shape(lhs, rhs))]
    fn cubek_unit_matmul(
        lhs: FloatTensor<Self>,
        rhs: FloatTensor<Self>,
        double: bool,
    ) -> FloatTensor<Self>;
}

impl CubekMatmul for Flex {
    fn cubek_unit_matmul(
        lhs: FloatTensor<Self>,
        rhs: FloatTensor<Self>,
        _: bool,
    ) -> FloatTensor<Self> {
        Self::float_matmul(lhs, rhs)
    }
}

impl CubekMatmul for CubeBackend {
    fn cubek_unit_matmul(lhs: CubeTensor, rhs: CubeTensor, double: bool) -> CubeTensor {
        let client = lhs.client.clone();
        let out = empty_f32(&lhs, product_shape(lhs.meta.shape(), rhs.meta.shape()));
        let tile_size = TileSizeSelection::MinTileSize;
        let strategy: Strategy = if double {
            Routine::DoubleUnit(BlueprintStrategy::Inferred(DoubleUnitSelectionArgs {
                tile_size,
            }))
        } else {
            Routine::SimpleUnit(BlueprintStrategy::Inferred(SimpleUnitSelectionArgs {
                tile_size,
            }))
        }
        .into();
        let f32_type = burn::backend::cubecl::dtype_to_storage_type(DType::F32);
        let mut dtypes = MatmulElems::from_globals(&MatmulGlobalElems {
            lhs: f32_type,
            rhs: f32_type,
            out: f32_type,
        });
        let launched = cubek::matmul::launch::launch_ref(
            &strategy,
            &client,
            InputBinding::new(lhs.clone().binding(), f32_type),
            InputBinding::new(rhs.clone().binding(), f32_type),
            out.clone().binding(),
            &mut dtypes,
        );
        match launched {
            Ok(()) => out,
            Err(_) => Self::float_mul_scalar(Self::float_matmul(lhs, rhs), f32::NAN.into()),
        }
    }
}

/// A B through cubek's unit routine (see the trait); for the benchmark.
pub fn cubek_unit_matmul(lhs: Tensor<2>, rhs: Tensor<2>, double: bool) -> Tensor<2> {
    Tensor::from_dispatch(Dispatch::cubek_unit_matmul(
        lhs.into_dispatch(),
        rhs.into_dispatch(),
        double,
    ))
}
