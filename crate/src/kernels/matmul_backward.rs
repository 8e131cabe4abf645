//! `lab_matmul` under autodiff. For C = A B: dA = dC Bᵀ and dB = Aᵀ dC, both again `lab_matmul`
//! of the inner backend on transposed views (no copies: the kernel reads strides), summed over
//! the batch where an operand was broadcast, and only for the operands that are tracked.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{binary, broadcast_shape, Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata};
use burn::tensor::Shape;

use super::LabMatmul;

#[derive(Debug)]
struct MatmulBackward;

impl<B: Backend + LabMatmul> Backward<B, 2> for MatmulBackward {
    /// A's node when B is tracked (dB needs A), B's node when A is tracked; both shapes.
    type State = (Option<NodeId>, Option<NodeId>, Shape, Shape);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let (lhs, rhs, lhs_shape, rhs_shape) = ops.state;
        let lhs: Option<FloatTensor<B>> = lhs.map(|id| checkpointer.retrieve_node_output(id));
        let rhs: Option<FloatTensor<B>> = rhs.map(|id| checkpointer.retrieve_node_output(id));
        binary::<B, _, _>(
            ops.parents,
            ops.node,
            grads,
            |grad| {
                let b_t = B::float_transpose(rhs.expect("B kept for dA"));
                broadcast_shape::<B>(B::lab_matmul(grad, b_t), &lhs_shape)
            },
            |grad| {
                let a_t = B::float_transpose(lhs.expect("A kept for dB"));
                broadcast_shape::<B>(B::lab_matmul(a_t, grad), &rhs_shape)
            },
        );
    }
}

impl<B: Backend + LabMatmul, C: CheckpointStrategy> LabMatmul for Autodiff<B, C> {
    fn lab_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        let (lhs_tracked, rhs_tracked) = (lhs.is_tracked(), rhs.is_tracked());
        let shapes = (lhs.primitive().shape(), rhs.primitive().shape());
        match MatmulBackward
            .prepare::<C>([lhs.node(), rhs.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let lhs_state = rhs_tracked.then(|| prep.checkpoint(&lhs));
                let rhs_state = lhs_tracked.then(|| prep.checkpoint(&rhs));
                let out = B::lab_matmul(lhs.into_primitive(), rhs.into_primitive());
                prep.finish((lhs_state, rhs_state, shapes.0, shapes.1), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::lab_matmul(lhs.into_primitive(), rhs.into_primitive()))
            }
        }
    }
}
