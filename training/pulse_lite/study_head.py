"""The study head: multinomial logistic regression on standardised study features (from predicted
masks), exported as its own ONNX file. Small on purpose: 80 training patients."""
import numpy as np
import torch

L2 = 3e-2   # fixed, not tuned on validation


class StudyHead(torch.nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.linear = torch.nn.Linear(n_in, n_out)

    def forward(self, features):
        return self.linear(features)


def fit(x, y, n_groups, seed=0):
    """x standardised [N,F], y [N] -> StudyHead (full-batch L-BFGS, L2 on the weights)."""
    torch.manual_seed(seed)
    head = StudyHead(x.shape[1], n_groups)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    opt = torch.optim.LBFGS(head.parameters(), lr=0.5, max_iter=500, line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(xt), yt) + L2 * (head.linear.weight ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return head


def logits_of(head, x):
    with torch.no_grad():
        return head(torch.as_tensor(x, dtype=torch.float32)).numpy()


def fit_temperature(logits, y):
    """Temperature minimising the negative log-likelihood of held-out logits (grid search, 0.05..5: the
    L2-regularised head is under-confident, and its fitted temperature reached the old lower end, 0.2)."""
    best, best_t = np.inf, 1.0
    for t in np.exp(np.linspace(np.log(0.05), np.log(5), 300)):
        z = logits / t
        z = z - z.max(1, keepdims=True)
        nll = -(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(1))).mean()
        if nll < best:
            best, best_t = nll, float(t)
    return best_t, float(best)


def export(head, path, n_in):
    head.eval()
    torch.onnx.export(head, torch.zeros(2, n_in), str(path), opset_version=17, input_names=['features'],
                      output_names=['group_logits'], dynamic_axes={'features': {0: 'N'}, 'group_logits': {0: 'N'}})
