"""Unit tests of the cross-validation's pieces (run by test/training-smoke.test.ts):
    /usr/bin/python3 -m unittest discover -s training/tests -t .
"""
import json
import math
import unittest

import numpy as np
import torch

from training.pulse_lite import config as C
from training.pulse_lite import metrics as M


class FoldAssignment(unittest.TestCase):
    def test_stratified_disjoint_and_deterministic(self):
        groups = {f'patient{i:03d}': C.GROUPS[(i - 1) // 20] for i in range(1, 101)}
        folds = M.assign_folds(groups, 5)
        self.assertEqual(folds, M.assign_folds(dict(reversed(list(groups.items()))), 5), 'independent of input order')
        self.assertEqual(sorted(p for f in folds for p in f), sorted(groups), 'every patient exactly once')
        for f in folds:
            self.assertEqual(len(f), 20)
            for g in C.GROUPS:
                self.assertEqual(sum(groups[p] == g for p in f), 4, f'4 {g} patients per fold')

    def test_fold_4_is_the_fixed_validation_split_of_1_0(self):
        split = json.loads(C.SPLITS.read_text())['validation']
        folds = json.loads((C.ROOT / 'training' / 'cv-folds.json').read_text())['folds']
        self.assertEqual(folds[4], sorted(split))

    def test_uneven_groups_stay_balanced(self):
        groups = {'a1': 'A', 'a2': 'A', 'a3': 'A', 'b1': 'B', 'b2': 'B'}
        sizes = sorted(len(f) for f in M.assign_folds(groups, 2))
        self.assertEqual(sizes, [2, 3])


class Calibration(unittest.TestCase):
    def test_ece_by_hand(self):
        # bin (0.5, 0.6]: two cases, conf 0.55 each, one right -> |0.5 - 0.55| = 0.05, weight 2/4
        # bin (0.9, 1.0]: two cases, conf 0.95 and 1.0, both right -> |1 - 0.975| = 0.025, weight 2/4
        self.assertAlmostEqual(M.ece([0.55, 0.55, 0.95, 1.0], [True, False, True, True]), 0.5 * 0.05 + 0.5 * 0.025)

    def test_bin_edges_are_right_closed(self):
        # 0.6 belongs to (0.5, 0.6], with 0.55: mean conf 0.575, accuracy 1 -> 0.425
        self.assertAlmostEqual(M.ece([0.6, 0.55], [True, True]), 0.425)
        self.assertAlmostEqual(M.ece([0.0], [False]), 0.0)

    def test_perfectly_calibrated_and_overconfident(self):
        conf = [0.8] * 10
        self.assertAlmostEqual(M.ece(conf, [True] * 8 + [False] * 2), 0.0)
        self.assertAlmostEqual(M.ece([1.0] * 4, [True, False, False, False]), 0.75)

    def test_macro_f1_matches_pulse_eval_definition(self):
        truth = ['A', 'A', 'B', 'B']
        pred = ['A', 'B', 'B', 'C']     # C predicted but never true: F1 0, still counted
        f1_a, f1_b = 2 * 1 * 0.5 / 1.5, 2 * 0.5 * 0.5 / 1.0
        self.assertAlmostEqual(M.macro_f1(truth, pred), (f1_a + f1_b + 0) / 3)


class Segmentation(unittest.TestCase):
    def test_hd95_against_brute_force(self):
        rng = np.random.default_rng(1)
        a = np.zeros((20, 18, 5), np.uint8)
        b = np.zeros_like(a)
        a[4:14, 3:12, 1:4] = 1
        b[6:15, 5:13, 1:5] = 1
        b[rng.random(b.shape) < 0.02] = 1
        spacing = (1.5, 1.25, 8.0)

        def surface(m):
            pts = []
            for idx in zip(*np.nonzero(m)):
                for ax in range(3):
                    for d in (-1, 1):
                        j = list(idx)
                        j[ax] += d
                        if not 0 <= j[ax] < m.shape[ax] or not m[tuple(j)]:
                            pts.append(idx)
                            break
                    else:
                        continue
                    break
            return np.array(sorted(set(pts)), dtype=np.float64) * spacing

        pa, pb = surface(a == 1), surface(b == 1)
        dist = np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(-1))
        expected = np.percentile(np.concatenate([dist.min(1), dist.min(0)]), 95)
        self.assertAlmostEqual(M.hd95(a, b, 1, spacing), expected, places=6)
        self.assertIsNone(M.hd95(a, b, 2, spacing))
        self.assertAlmostEqual(M.dice(a, a, 1), 1.0)
        self.assertIsNone(M.dice(a, b, 3))

    def test_mean_sd_is_the_sample_sd_without_missing_values(self):
        r = M.mean_sd([1.0, None, 3.0])
        self.assertEqual((r['mean'], r['n']), (2.0, 2))
        self.assertAlmostEqual(r['sd'], math.sqrt(2))


class Recipes(unittest.TestCase):
    def test_v1_0_draws_exactly_what_the_shipped_weights_were_trained_with(self):
        """The fixture was computed with the 1.0 augmentation and loss code before recipes existed."""
        from training.pulse_lite.augment import intensity, spatial
        from training.pulse_lite.losses import composite
        from training.pulse_lite.train import synthetic_cache
        want = json.loads((C.ROOT / 'training' / 'fixtures' / 'augment-v1.0.json').read_text())
        rc = C.recipe('v1.0')
        img, lab, meta, _ = synthetic_cache()
        torch.manual_seed(7)
        x = torch.from_numpy(img[:8]).float()[:, None]
        y = torch.from_numpy(lab[:8]).long()
        xs, ys = spatial(x, y, 64, 72, 1.5, rc=rc)
        xi = intensity(xs, rc=rc)
        logits, diag = torch.randn(8, 4, 64, 64), torch.randn(8, 5)
        loss, _ = composite(logits, diag, ys, torch.from_numpy(meta[:8, 4]).long(), rc, torch.from_numpy(meta[:8, 1] == 1))
        self.assertEqual(np.bincount(ys.numpy().ravel(), minlength=4).tolist(), want['label_hist'])
        self.assertAlmostEqual(float(xs.double().sum()) / want['spatial_sum'], 1, places=9)
        self.assertAlmostEqual(float((xs.double() ** 2).sum()) / want['spatial_sq'], 1, places=9)
        self.assertAlmostEqual(float((xi.double() ** 2).sum()) / want['intensity_sq'], 1, places=6)
        self.assertAlmostEqual(float(loss), want['loss'], places=5)

    def test_v1_1_ranges_cover_the_issue_list(self):
        r = C.recipe('v1.1')
        self.assertEqual(r['shift_mm'], C.SIZE * C.SPACING_MM / 3, 'translations up to a third of the 240 mm window')
        self.assertEqual(r['scale'], (0.6, 1.6))
        for p in ('rotate_p', 'flip_p', 'transpose_p', 'partial_p', 'bias_p', 'gamma_p', 'contrast_p', 'noise_p', 'blur_p', 'lowres_p'):
            self.assertGreater(r[p], 0, p)
        self.assertGreater(r['w_rv_es_dice'], 0)
        self.assertEqual(r['select'], 'last')

    def test_overrides_are_named_and_checked(self):
        r = C.recipe('v1.1', ['w_rv_es_dice=0', 'scale=[0.75,1.35]'])
        self.assertEqual((r['w_rv_es_dice'], r['scale']), (0, (0.75, 1.35)))
        self.assertEqual(r['name'], 'v1.1+w_rv_es_dice=0,scale=[0.75,1.35]')
        with self.assertRaises(ValueError):
            C.recipe('v1.1', ['no_such_switch=1'])
        with self.assertRaises(ValueError):
            C.recipe('v9')

    def test_v1_1_augmentation_moves_transposes_and_cuts(self):
        from training.pulse_lite.augment import spatial
        rc = dict(C.recipe('v1.1'), rotate_p=0.0, scale_p=0.0, flip_p=0.0, shift_mm=0.0, elastic_p=0.0, partial_p=0.0, transpose_p=1.0)
        img = torch.arange(72 * 72, dtype=torch.float32).reshape(1, 1, 72, 72)
        lab = torch.zeros(1, 72, 72, dtype=torch.long)
        out, _ = spatial(img, lab, 64, 72, 1.5, rc=rc)
        plain, _ = spatial(img, lab, 64, 72, 1.5, rc=dict(rc, transpose_p=0.0))
        self.assertTrue(torch.allclose(out[0, 0], plain[0, 0].T), 'a transpose swaps rows and columns')
        cut = dict(rc, transpose_p=0.0, partial_p=1.0, partial_max=0.3)
        lab1 = torch.ones(4, 72, 72, dtype=torch.long)
        im2, lb2 = spatial(img.expand(4, -1, -1, -1) + 1, lab1, 64, 72, 1.5, rc=cut)
        self.assertTrue(((im2[:, 0] == 0) == (lb2 == 0)).all(), 'cut-off field of view: no image and no label')
        self.assertGreater(int((lb2 == 0).sum()), 0)


class NativeCrop(unittest.TestCase):
    def test_crop_keeps_the_window_and_labels(self):
        from training.pulse_lite.acdc import Phase
        from training.pulse_lite.native import crop_margin, crop_phase
        self.assertEqual(crop_margin(100, 1.5), 0, 'a field of view smaller than the canvas is not cropped')
        n, sp = 512, 0.7
        m = crop_margin(n, sp)
        reach_px = ((C.CANVAS - 1) / 2 * C.SPACING_MM + C.SPACING_MM) / sp
        self.assertLessEqual(m, (n - 1) / 2 - reach_px - 1)
        lab = np.zeros((n, n, 2), np.uint8)
        lab[3, 300, 0] = 1          # a labelled voxel near the edge stops the crop there
        cropped, (r, c) = crop_phase(Phase(np.zeros((n, n, 2), np.float32), lab, (sp, sp, 10.0)))
        self.assertEqual((r, c), (3, m))
        self.assertEqual(int(cropped.label.sum()), 1)


class OutOfFoldHead(unittest.TestCase):
    """cv.stacked_head / export_head: the head fitted on held-out patients of other folds."""

    @staticmethod
    def results(swap_fold=None, seed=3):
        from training.pulse_lite.features import HEAD_FEATURES
        rng = np.random.default_rng(seed)
        signature = {g: rng.normal(0, 1, len(HEAD_FEATURES)) * 4 for g in C.GROUPS}
        out = []
        for k in range(5):
            pts = []
            for g_i, g in enumerate(C.GROUPS):
                for j in range(2):
                    # in swap_fold every patient looks like the next group: a head that learnt from this fold
                    # would follow the swap, one fitted on the other folds cannot
                    look = C.GROUPS[(g_i + 1) % len(C.GROUPS)] if k == swap_fold else g
                    vals = signature[look] + rng.normal(0, 0.5, len(HEAD_FEATURES))
                    pts.append({'id': f'patient{k * 10 + g_i * 2 + j + 1:03d}', 'group': g,
                                'features': dict(zip(HEAD_FEATURES, vals.tolist()))})
            out.append({'fold': k, 'patients': pts})
        return out

    def test_each_fold_is_scored_by_a_head_fitted_on_the_other_folds_only(self):
        from training.pulse_lite import cv
        stacked = cv.stacked_head(self.results(swap_fold=2))
        acc = {k: np.mean([p['predicted'] == p['group'] for p in v['patients']]) for k, v in stacked.items()}
        self.assertEqual(acc[0], 1.0)
        self.assertEqual(acc[2], 0.0, 'fold 2 looks like the next group and its head never saw it')
        self.assertEqual(stacked[0]['train_rows'], 40)
        for v in stacked.values():
            self.assertTrue(all(abs(sum(p['probabilities']) - 1) < 1e-5 for p in v['patients']))

    def test_results_without_the_patients_features_give_no_stacked_head(self):
        from training.pulse_lite import cv
        res = self.results()
        for p in res[1]['patients']:
            del p['features']
        self.assertIsNone(cv.stacked_head(res))
        self.assertIsNone(cv.stacked_head(self.results()[:1]))

    def test_export_head_writes_the_onnx_head_and_the_manifest_fields(self):
        import tempfile
        from pathlib import Path
        from training.pulse_lite import cv
        from training.pulse_lite.features import HEAD_FEATURES, bsa_m2
        res = self.results()
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / 'model').mkdir()
            (tmp / 'model' / 'manifest.json').write_text(json.dumps({'diagnosis': {'studyHead': {'file': 'study-head.onnx'}}}))
            bsas = []
            for r in res:
                for i, p in enumerate(r['patients']):
                    (tmp / 'acdc' / p['id']).mkdir(parents=True)
                    h, w = 150 + i, 60 + 2 * i
                    (tmp / 'acdc' / p['id'] / 'Info.cfg').write_text(f'ED: 1\nES: 9\nGroup: {p["group"]}\nHeight: {h}\nWeight: {w}\n')
                    bsas.append(bsa_m2(h, w))
            info = cv.export_head(res, tmp / 'model', acdc=tmp / 'acdc')
            self.assertEqual(info['rows'], 50)
            self.assertGreater((tmp / 'model' / 'study-head.onnx').stat().st_size, 0)
            head = json.loads((tmp / 'model' / 'manifest.json').read_text())['diagnosis']['studyHead']
            self.assertEqual([f['name'] for f in head['features']], HEAD_FEATURES)
            first = np.array([r['patients'][0]['features'][HEAD_FEATURES[0]] for r in res] +
                             [p['features'][HEAD_FEATURES[0]] for r in res for p in r['patients'][1:]])
            self.assertAlmostEqual(head['mean'][0], round(float(first.mean()), 4), places=4)
            self.assertEqual(head['defaultBsaM2'], round(float(np.median(bsas)), 3))
            self.assertGreater(head['temperature'], 0)
            self.assertEqual(head['file'], 'study-head.onnx', 'other fields stay')
            with self.assertRaises(SystemExit):
                cv.export_head(res[:4], tmp / 'model', acdc=tmp / 'acdc')


class CompareTwoRecipes(unittest.TestCase):
    def test_paired_on_the_folds_both_finished(self):
        import tempfile
        from pathlib import Path
        from training.pulse_lite import cv

        def fold(k, lv_es, lvef):
            pts = [{'id': f'patient{k}{i}', 'group': 'NOR', 'predicted': 'NOR',
                    'dice': {ph: {'rv': 0.9, 'myo': 0.8, 'lv': lv_es[i] if ph == 'es' else 0.95} for ph in ('ed', 'es')},
                    'measures': {m: lvef[i] for m in cv.MEASURES}, 'measures_expert': {m: 60.0 for m in cv.MEASURES}}
                   for i in range(len(lv_es))]
            return {'fold': k, 'recipe': {'name': 'x'}, 'patients': pts}
        with tempfile.TemporaryDirectory() as tmp:
            a, b = Path(tmp) / 'a', Path(tmp) / 'b'
            for d, results in ((a, [fold(0, [0.8, 0.9], [50, 60]), fold(1, [0.7, 0.7], [60, 60])]),
                               (b, [fold(0, [0.85, 0.9], [58, 61]), fold(2, [0.1, 0.1], [0, 0])])):
                for r in results:
                    (d / f"fold-{r['fold']}").mkdir(parents=True)
                    (d / f"fold-{r['fold']}" / 'result.json').write_text(json.dumps(r))
            res = cv.compare(a, b)
            self.assertEqual(res['folds'], [0], 'only the fold both finished')
            row = {r['what']: r for r in res['rows']}
            self.assertAlmostEqual(row['Dice LV ES']['a'], 0.85)
            self.assertAlmostEqual(row['Dice LV ES']['b'], 0.875)
            self.assertEqual(row['Dice LV ES']['b_better'], 1)
            self.assertEqual((row['lvef_pct MAE']['a'], row['lvef_pct MAE']['b'], row['lvef_pct MAE']['b_better']), (5.0, 1.5, 1))
            (b / 'fold-1').mkdir()
            (b / 'fold-1' / 'result.json').write_text(json.dumps(dict(fold(1, [0.7], [60]), patients=[])))
            with self.assertRaises(SystemExit):
                cv.compare(a, b)


if __name__ == '__main__':
    unittest.main()


class RobustnessConditions(unittest.TestCase):
    def test_each_perturbation_keeps_shapes_and_the_unperturbed_window_is_unchanged(self):
        from training.pulse_lite.robustness import moved, perturbed
        k = C.CANVAS
        img = torch.rand(2, 1, k, k) * 255
        lab = torch.randint(0, 4, (2, k, k))
        wi, wl = moved(img, lab, 0, 0, 0, False)
        wi2, wl2 = moved(img, lab, 0, 0, 0, False, scale=1.0, transpose=False)
        self.assertTrue(torch.equal(wi, wi2) and torch.equal(wl, wl2))
        wt, _ = moved(img, lab, 0, 0, 0, False, transpose=True)
        self.assertTrue(torch.allclose(wt[0, 0], wi[0, 0].T, atol=1e-4))
        for kind, value in (('gamma', 0.5), ('contrast', 0.6), ('bias', 0.35), ('noise', 0.15), ('blur', 1.5), ('lowres', 3.0), ('cut', 0.25)):
            pi, pl = perturbed(wi, wl, kind, value)
            self.assertEqual(pi.shape, wi.shape, kind)
            self.assertTrue(torch.isfinite(pi).all(), kind)
            self.assertFalse(torch.equal(pi, wi), f'{kind} changes the image')
        _, pl = perturbed(wi, wl, 'cut', 0.25)
        self.assertEqual(int(pl[:, :C.SIZE // 4].sum()), 0, 'no labels where the field of view was cut')
