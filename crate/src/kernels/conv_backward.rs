//! `lab_conv2d` under autodiff: the gradients of z = conv(x, w) are the backend's
//! `lab_conv2d_x_backward` and `lab_conv2d_weight_backward`, each only for a tracked input
//! (burn's own conv2d backward keeps the same state: both inputs).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, Backend};

use super::LabConv;

#[derive(Debug)]
struct ConvBackward;

impl<B: Backend + LabConv> Backward<B, 2> for ConvBackward {
    /// x's and w's nodes, stride, padding.
    type State = (NodeId, NodeId, usize, usize);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_w] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x, w, stride, padding) = ops.state;
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(x);
        let w: FloatTensor<B> = checkpointer.retrieve_node_output(w);
        if let Some(node) = node_x {
            let dx = B::lab_conv2d_x_backward(x.clone(), w.clone(), grad.clone(), stride, padding);
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = node_w {
            let dw = B::lab_conv2d_weight_backward(x, w, grad, stride, padding);
            grads.register::<B>(node.id, dw);
        }
    }
}

impl<B: Backend + LabConv, C: CheckpointStrategy> LabConv for Autodiff<B, C> {
    fn lab_conv2d(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        match ConvBackward
            .prepare::<C>([x.node(), w.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let w_state = prep.checkpoint(&w);
                let out = B::lab_conv2d(x.into_primitive(), w.into_primitive(), stride, padding);
                prep.finish((x_state, w_state, stride, padding), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::lab_conv2d(
                x.into_primitive(),
                w.into_primitive(),
                stride,
                padding,
            )),
        }
    }

    // The gradients are never differentiated again (the lab's HVPs are forward-over-reverse:
    // model/net/forward.rs carries tangents through `lab_conv2d` itself).
    fn lab_conv2d_x_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        Self::from_inner(B::lab_conv2d_x_backward(
            x.into_primitive(),
            w.into_primitive(),
            grad.into_primitive(),
            stride,
            padding,
        ))
    }

    fn lab_conv2d_weight_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        Self::from_inner(B::lab_conv2d_weight_backward(
            x.into_primitive(),
            w.into_primitive(),
            grad.into_primitive(),
            stride,
            padding,
        ))
    }
}
