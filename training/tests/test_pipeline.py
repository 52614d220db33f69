"""`pipeline all` produces the shipped study head the 1.0.1 way (issue 14): after the network is exported it
dumps the TypeScript pipeline's masks with that network and runs head_cv's export. Checked on the step list
and the dry run (nothing trains), and head_cv.export on synthetic rows in a temporary model folder:
    /usr/bin/python3 -m unittest discover -s training/tests -t .
"""
import contextlib
import io
import json
import shutil
import tempfile
import unittest
from pathlib import Path

import numpy as np

from training.pulse_lite import config as C
from training.pulse_lite import head_cv, pipeline
from training.pulse_lite.features import HEAD_FEATURES


def names(steps):
    return [name for name, _, _ in steps]


class PipelineAllSteps(unittest.TestCase):
    def test_the_service_head_is_fitted_after_the_export_with_the_new_network(self):
        _, steps = pipeline.all_steps([])
        self.assertEqual(names(steps), ['prepare', 'train', 'keep-weights', 'evaluate', 'export', 'drop-stale-qc-reference',
                                        'require-node', 'build', 'clear-head-features', 'head-features', 'head-cv-export'])
        described = {name: description for name, description, _ in steps}
        self.assertEqual(described['build'], 'npm run build')
        # the dump is the npm script's command, reads the data the training read, writes where head_cv reads
        scripts = json.loads((C.ROOT / 'package.json').read_text())['scripts']
        self.assertTrue(described['head-features'].startswith(scripts['head-features'] + ' '))
        self.assertIn(f'--source {C.ACDC}', described['head-features'])
        self.assertIn(f'--out {head_cv.DUMP}', described['head-features'])
        self.assertIn('--export', described['head-cv-export'])

    def test_options_other_than_the_pipeline_s_go_to_training(self):
        a, steps = pipeline.all_steps(['--recipe', 'v1.0', '--set', 'w_rv_es_dice=0', '--dry-run'])
        self.assertTrue(a.dry_run)
        train = dict((n, d) for n, d, _ in steps)['train']
        self.assertTrue(train.endswith('--recipe v1.0 --set w_rv_es_dice=0'), train)

    def test_the_1_0_0_head_only_behind_an_explicit_flag(self):
        _, steps = pipeline.all_steps(['--head', 'python'])
        self.assertEqual(names(steps), ['prepare', 'train', 'keep-weights', 'evaluate', 'export', 'drop-stale-qc-reference'])

    def test_without_node_the_stop_names_the_manual_commands(self):
        with self.assertRaises(SystemExit) as stop:
            pipeline.require_node(which=lambda tool: None if tool == 'node' else '/usr/bin/' + tool)
        message = str(stop.exception.code)
        self.assertIn('node not found', message)
        self.assertIn('npm run build && npm run head-features', message)
        self.assertIn('training.pulse_lite.head_cv --export', message)
        pipeline.require_node(which=lambda tool: '/usr/bin/' + tool)   # both present: no stop

    def test_dry_run_lists_the_steps_and_runs_nothing(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = pipeline.main(['all', '--dry-run'])
        self.assertEqual(rc, 0)
        lines = out.getvalue().splitlines()
        self.assertEqual(len(lines), 11)
        self.assertTrue(lines[-1].startswith('11. head-cv-export: '), lines[-1])


class PipelineAllOnEveryPatient(unittest.TestCase):
    """`pipeline all --cv DIR`: the network on all 100 patients, shipped with its recipe's cross-validation."""

    def test_trains_without_held_out_patients_and_ships_the_out_of_fold_head(self):
        _, steps = pipeline.all_steps(['--cv', 'training/cv-results/v1.0', '--recipe', 'v1.0'])
        self.assertEqual(names(steps), ['check-cv', 'prepare', 'train', 'keep-weights', 'evaluate', 'export',
                                        'drop-stale-qc-reference', 'cv-export-head'])
        described = dict((n, d) for n, d, _ in steps)
        self.assertTrue(described['train'].endswith('--recipe v1.0 --holdout none --set select=last'), described['train'])
        self.assertIn('--cv-report training/cv-results/v1.0/cv-report.json', described['export'])

    def test_what_follows_uses_every_patient_the_network_was_trained_on(self):
        self.assertTrue(all('--split all' in c for c in pipeline.after_all(cv=True)[:2]))
        self.assertTrue(all('--split train' in c for c in pipeline.after_all()[:2]))
        self.assertIn('--update-manifest', pipeline.after_all(cv=True)[0])
        self.assertIn('not an accuracy estimate', pipeline.after_all(cv=True)[2])

    def report(self, tmp, recipe, complete=True):
        (Path(tmp) / 'cv-report.json').write_text(json.dumps({'complete': complete, 'recipe': recipe, 'per_fold': [{}] * 5}))
        return tmp

    def test_the_cross_validation_must_be_complete_and_of_the_recipe_trained(self):
        ours = pipeline.training_recipe(['--recipe', 'v1.0', '--set', 'select=last'])
        as_json = json.loads(json.dumps(ours))
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaises(SystemExit) as stop:
                pipeline.check_cv(tmp, ours)
            self.assertIn('no cv-report.json', str(stop.exception.code))
            self.assertEqual(pipeline.check_cv(self.report(tmp, as_json), ours)['complete'], True)
            with self.assertRaises(SystemExit) as stop:
                pipeline.check_cv(self.report(tmp, as_json, complete=False), ours)
            self.assertIn('incomplete', str(stop.exception.code))
            other = json.loads(json.dumps(C.recipe('v1.1')))
            with self.assertRaises(SystemExit) as stop:
                pipeline.check_cv(self.report(tmp, other), ours)
            self.assertIn('another recipe', str(stop.exception.code))
            self.assertIn('scale', str(stop.exception.code))


class ExportCvValidation(unittest.TestCase):
    def test_the_manifest_quotes_the_fold_means_and_the_out_of_fold_head(self):
        from training.pulse_lite import cv, export
        per_fold = []
        for k in range(5):
            pts = [{'id': f'p{k}{i}', 'group': g, 'predicted': g, 'probabilities': [0.9 if x == g else 0.025 for x in C.GROUPS],
                    'features': {f: float(k + i) for f in HEAD_FEATURES},
                    'dice': {ph: {'rv': 0.8 + 0.01 * k, 'myo': 0.85, 'lv': 0.9} for ph in ('ed', 'es')},
                    'hd95_mm': {ph: {'rv': 5.0, 'myo': 3.0, 'lv': 2.0} for ph in ('ed', 'es')},
                    'measures': {m: 10.0 for m in cv.MEASURES}, 'measures_expert': {m: 12.0 for m in cv.MEASURES},
                    'predicted_on_expert_masks': g} for i, g in enumerate(C.GROUPS)]
            per_fold.append({'fold': k, 'patients': pts, 'temperature': 1.0, 'recipe': C.recipe('v1.0', ['select=last']),
                             'device': 'cpu', 'training_seconds_total': 1.0})
        with tempfile.TemporaryDirectory() as tmp:
            for r in per_fold:
                (Path(tmp) / f"fold-{r['fold']}").mkdir()
                (Path(tmp) / f"fold-{r['fold']}" / 'result.json').write_text(json.dumps(r))
            with contextlib.redirect_stdout(io.StringIO()):
                report = cv.aggregate(tmp)
        v = export.cv_validation(report)
        self.assertAlmostEqual(v['diceEd']['rv'], 0.82)
        self.assertAlmostEqual(v['lvefMaePct'], 2.0)
        self.assertEqual(v['patients'], 25)
        self.assertIn('oof_head_accuracy', report['summary'], 'every fold has the features: the out-of-fold head is scored')
        self.assertEqual(v['diagnosisAccuracy'], report['summary']['oof_head_accuracy']['mean'])
        with self.assertRaises(SystemExit):
            export.cv_validation(dict(report, complete=False))


class HeadCvExport(unittest.TestCase):
    def test_export_writes_the_head_and_the_figure_pulse_eval_reports_and_keeps_the_rest(self):
        rng = np.random.default_rng(7)
        val = set(json.loads(C.SPLITS.read_text())['validation'])
        rows = []
        for g, group in enumerate(C.GROUPS):
            for k in range(20):
                pid = f'patient{g * 20 + k + 1:03d}'
                centre = np.zeros(len(HEAD_FEATURES))
                centre[g % len(HEAD_FEATURES)] = 4.0
                rows.append({'id': pid, 'group': group, 'val': pid in val, 'height_cm': 170.0 + k, 'weight_kg': 70.0 + g,
                             'pred': dict(zip(HEAD_FEATURES, (centre + rng.normal(size=len(HEAD_FEATURES))).tolist()))})
        self.assertEqual(sum(r['val'] for r in rows), 20)
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(C.MODEL_DIR / 'manifest.json', tmp)
            shipped = json.loads((C.MODEL_DIR / 'manifest.json').read_text())
            validation, fitted, t = head_cv.validation_only(rows, HEAD_FEATURES)
            with contextlib.redirect_stdout(io.StringIO()):
                head_cv.export(rows, fitted, t, validation, tmp)
            written = json.loads((Path(tmp) / 'manifest.json').read_text())
            self.assertTrue((Path(tmp) / 'study-head.onnx').stat().st_size > 0)
        head = written['diagnosis']['studyHead']
        self.assertEqual([f['name'] for f in head['features']], HEAD_FEATURES)
        self.assertEqual(len(head['mean']), len(HEAD_FEATURES))
        self.assertAlmostEqual(head['temperature'], t, places=4)
        self.assertEqual(written['version'], C.VERSION)
        self.assertAlmostEqual(written['validation']['diagnosisAccuracy'], validation['accuracy'], places=4)
        self.assertIn('pulse eval --split val', written['validation']['note'])
        for key in set(shipped) - {'version', 'diagnosis', 'validation'}:
            self.assertEqual(written[key], shipped[key], key)
        self.assertEqual(written['diagnosis']['groups'], shipped['diagnosis']['groups'])
        self.assertEqual(written['validation']['diceEs'], shipped['validation']['diceEs'])


if __name__ == '__main__':
    unittest.main()
