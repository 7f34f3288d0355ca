"""Smoke test of a tiny comparison under the JAX backend."""

import json
import os
import subprocess
import sys
import textwrap


def test_tiny_comparison_under_jax(tmp_path, fashion_available):
    script = textwrap.dedent(
        f"""
        import json, keras
        from labkit.training import compare
        result = compare(
            ["sgd", "adagrad"], dataset="fashion_mnist", model="cifar10_cnn",
            model_options={{"width": 0.25}}, preset="keras2017", epochs=2, batch_size=32,
            train_size=64, validation=0.25, download=False, output_dir={str(tmp_path)!r},
        )
        print(json.dumps({{"backend": keras.backend.backend(),
                           "statuses": [r["status"] for r in result.runs],
                           "epochs": len(result.history)}}))
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"}

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=600)

    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"backend": "jax", "statuses": ["finished", "finished"], "epochs": 4}
