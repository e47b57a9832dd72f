"""Ready lessons: links built from the tutorials (shared/SEEDS.md), each a plain dict of
query parameters a teacher can copy and change. The figures quoted in the notes are what
these setups give here (seed 0)."""
from __future__ import annotations

LESSONS = [
    dict(
        key="xor_9line",
        title="Why the 9-line network needs 10,000 iterations",
        params=dict(
            preset="xor_9line", epochs="10", hide="dataset,preset",
            title="Why the 9-line network needs 10,000 iterations",
            note="Tutorial 2's network: 3-4-1, sigmoid, no biases, learning rate 1, full batch "
                 "on four samples. One epoch here is 100 iterations. Press Train 10 epochs: the loss "
                 "sits on a plateau for about 700 iterations, then every answer is right by "
                 "iteration 1,000. The other 9,000 iterations only push the outputs towards 0 "
                 "and 1, which a sigmoid reaches slowly: near 0 and 1 its slope, and with it "
                 "the gradient, all but vanishes. Then set Loss to cross-entropy and press Train 10 "
                 "epochs twice: its gradient has no sigmoid slope in it, and after 2,000 iterations "
                 "the outputs are closer to 0 and 1 than the tutorial's after 10,000.")),
    dict(
        key="mnist_perturb",
        title="Why the perturbation optimiser stays at chance on MNIST",
        params=dict(
            preset="mnist_perturb", hide="dataset,hidden",
            title="Why the perturbation optimiser stays at chance on MNIST",
            note="Tutorial 3's hill climber adds random noise to all 159,010 weights and keeps "
                 "the change only if the loss goes down. In so many dimensions almost every "
                 "random direction is no better than standing still, so test accuracy stays "
                 "near 10%, a guess. Train 5 epochs, press Add to comparison, then choose "
                 "'Switch to the modern variant' (gradients, Adam), train, Add to comparison "
                 "again and open the Compare page.")),
    dict(
        key="ring_features",
        title="A ring that needs x1² and x2²",
        params=dict(
            dataset="circles", hidden="none", hide="hidden,activation,output_activation,loss",
            title="A ring that needs x1² and x2²",
            note="No hidden layer: the network can only draw a straight line, and no straight "
                 "line separates a ring from its centre. Train 100 epochs: accuracy stays near "
                 "50%. Now add x1² and x2² under Input features and train again: a circle is "
                 "x1² + x2² = r², a straight line in those features, and the same network "
                 "reaches about 99%.")),
    dict(
        key="spiral_depth",
        title="A spiral that needs depth",
        params=dict(
            dataset="spiral", classes="3", hidden="6", lr="0.03", hide="dataset,classes",
            title="A spiral that needs depth",
            note="Three spiral arms, one hidden layer of 6 units: after 100 epochs it is stuck "
                 "near 86% on the held-out points, its boundary a few straight cuts. Press Add "
                 "to comparison, then set Hidden layers to 6, 6 and train 100 epochs (about "
                 "99%), then 6, 6, 6: each layer folds the plane again, and the arms come apart. "
                 "The Compare page shows the runs side by side.")),
    dict(
        key="mnist_sigmoid_modern",
        title="The sigmoid MNIST network beside its modern variant",
        params=dict(
            preset="mnist_nlayer", epochs="20",
            title="The sigmoid MNIST network beside its modern variant",
            note="Tutorial 1's 784-512-256-16-10: sigmoid everywhere, randn weights, full batch "
                 "on 1,000 binarised digits. Press Train 20 epochs, then Add to comparison. Then "
                 "choose 'Switch to the modern variant' in the sidebar (ReLU, softmax and "
                 "cross-entropy, Adam, mini-batches), train a few epochs, Add to comparison, and "
                 "open the Compare page: the curves and the confusion matrices side by side.")),
    dict(
        key="xor_watch",
        title="Watch XOR being learnt (no controls)",
        params=dict(
            preset="xor_backprop", hide="sidebar", page="weights",
            title="Watch XOR being learnt",
            note="Tutorial 4's 2-2-1 network with bias nodes and tiny starting weights, "
                 "normal(0, 0.1). One epoch is 1,000 iterations. Press Train 100 epochs: for "
                 "about 35,000 iterations the loss stays at 0.5 while the weights grow slowly, "
                 "then within 10,000 iterations every answer comes right. Scrub the epoch "
                 "slider back to see the moment the two hidden units split the work.")),
]
