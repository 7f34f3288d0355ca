"""The optimizer app without a browser: controls, validation, caps, queue, serving.

Widgets are driven through their own handlers: setting a widget's `value`
runs its observers, and `Button.click()` runs its `on_click` callbacks, as
a page would.
"""

import html
import json
import math
import multiprocessing
import os
import pathlib
import threading
import time

import ipywidgets
import pytest

from labkit import optimizers
from labkit.app import AppSettings, OptimizerPanel, TrainingForm, TrainingSlots, build_app, parse_seeds
from labkit.app import serve
from labkit.app._controls import HyperParameterControl, parse_number
from labkit.app._stored import comparison_name, owner_of
from labkit.errors import ConfigError

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def settings(tmp_path):
    return AppSettings(state_dir=str(tmp_path / "state"), max_epochs=5, max_seeds=2, max_train_size=500)


# Controls generated from the registry.


@pytest.mark.parametrize("name", optimizers.names())
def test_panel_matches_spec(name):
    entry = optimizers.spec(name)
    panel = OptimizerPanel(name, "keras3")
    assert list(panel.controls) == list(entry.hyperparameters)
    assert panel.values() == dict(entry.defaults["keras3"])
    assert panel.errors() == []
    for param_name, control in panel.controls.items():
        param = entry.hyperparameters[param_name]
        if param.kind == "float" and param.scale == "log":
            assert isinstance(control.input, ipywidgets.FloatLogSlider)
            assert control.input.min == pytest.approx(math.log10(param.slider_range[0]))
            assert control.input.max == pytest.approx(math.log10(param.slider_range[1]))
        elif param.kind == "float":
            assert isinstance(control.input, ipywidgets.FloatSlider)
        elif param.kind == "int":
            assert isinstance(control.input, ipywidgets.IntSlider)
        elif param.kind == "bool":
            assert isinstance(control.input, ipywidgets.Checkbox)
        else:
            assert isinstance(control.input, ipywidgets.Dropdown)
            assert list(control.input.options) == list(param.choices)
        assert param.help in control.input.tooltip


def test_learning_rate_is_log_slider():
    control = OptimizerPanel("adam").controls["learning_rate"]
    assert isinstance(control.input, ipywidgets.FloatLogSlider)
    assert control.input.base == 10
    assert "step size" in control.input.tooltip
    assert "a float in (0, inf)" in control.input.tooltip


def test_slider_and_text_follow_each_other():
    control = OptimizerPanel("sgd").controls["learning_rate"]
    control.input.value = 0.1
    assert control.text.value == "0.1"
    control.text.value = "0.003"
    assert control.input.value == pytest.approx(0.003)
    assert control.value == pytest.approx(0.003)


def test_text_outside_slider_is_kept():
    control = OptimizerPanel("sgd").controls["learning_rate"]
    control.text.value = "20"
    assert control.value == 20.0
    assert control.input.value == pytest.approx(10.0)
    assert control.error.value == ""


@pytest.mark.parametrize(
    "typed, received",
    [("-1", "-1.0"), ("0", "0.0"), ("abc", "'abc'"), ("nan", "nan"), ("inf", "inf")],
)
def test_invalid_text_shows_registry_message(typed, received):
    control = OptimizerPanel("adam").controls["learning_rate"]
    control.text.value = typed
    expected = f"adam: learning_rate must be a float in (0, inf). Received: learning_rate={received}"
    assert html.escape(expected) in control.error.value
    assert control.check() == expected


def test_reset_button_restores_preset_defaults():
    panel = OptimizerPanel("adam", "keras2017")
    panel.controls["learning_rate"].text.value = "0.5"
    panel.controls["amsgrad"].input.value = True
    panel.reset_button.click()
    assert panel.values() == dict(optimizers.spec("adam").defaults["keras2017"])


def test_preset_change_resets_to_its_defaults(settings):
    form = TrainingForm(settings)
    form.optimizers.value = ("adagrad",)
    form.preset.value = "keras2017"
    assert form.panels["adagrad"].values() == dict(optimizers.spec("adagrad").defaults["keras2017"])


def test_panels_follow_selection_and_keep_values(settings):
    form = TrainingForm(settings)
    form.optimizers.value = ("sgd", "rmsprop")
    assert [panel.name for panel in form.panels.values() if panel.widget in form.panel_box.children] == [
        "sgd", "rmsprop"
    ]
    form.panels["rmsprop"].controls["learning_rate"].text.value = "0.01"
    form.optimizers.value = ("sgd",)
    form.optimizers.value = ("sgd", "rmsprop")
    assert form.panels["rmsprop"].values()["learning_rate"] == 0.01


def test_parse_number():
    assert parse_number(" 0.5 ", "float") == 0.5
    assert parse_number("3", "int") == 3
    assert isinstance(parse_number("3", "int"), int)
    assert parse_number("3.5", "int") == 3.5
    assert parse_number("x", "float") == "x"


def test_int_control_rejects_fraction():
    param = optimizers.spec("muon").hyperparameters["ns_steps"]
    control = HyperParameterControl("muon", param, 5)
    control.text.value = "2.5"
    assert "muon: ns_steps must be an int in [1, inf). Received: ns_steps=2.5" in control.error.value


# The form: validation and caps.


def test_form_request_valid(settings):
    form = TrainingForm(settings)
    form.optimizers.value = ("sgd", "adam")
    form.panels["sgd"].controls["learning_rate"].text.value = "0.05"
    form.seeds.value = "0, 1"
    request = form.request()
    assert request.optimizers == ("sgd", "adam")
    assert request.seeds == (0, 1)
    assert request.hyperparameters["sgd"]["learning_rate"] == 0.05
    assert request.options["dataset"] == "fashion_mnist"
    assert request.options["model"] == "mlp"


def test_dataset_labels_show_offline(settings):
    labels = {value: label for label, value in TrainingForm(settings).dataset.options}
    assert labels["fashion_mnist"] == "fashion_mnist (offline)"


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("epochs", 6, "epochs must be at most 5 on this server (the instructor's limit). Received: epochs=6."),
        ("seeds", "0, 1, 2", "number of seeds must be at most 2 on this server (the instructor's limit). "
                             "Received: number of seeds=3."),
        ("train_size", 501, "train_size must be at most 500 on this server (the instructor's limit). "
                            "Received: train_size=501."),
        ("epochs", 0, "`epochs` must be an integer >= 1. Received: epochs=0"),
        ("batch_size", -2, "`batch_size` must be an integer >= 1. Received: batch_size=-2"),
        ("seeds", "0, x", "Seeds must be non-negative integers separated by commas, such as 0, 1, 2. "
                          "Received: seeds='0, x'"),
        ("seeds", "1, 1", "Each seed may appear once. Received it more than once: 1"),
        ("train_size", 5, "Training images must be from 10 (one per class) to 60,000 (the whole "
                          "fashion_mnist training set). Received: 5."),
    ],
)
def test_form_rejects_invalid(settings, field, value, expected):
    form = TrainingForm(settings)
    form.train_size.value = 400
    getattr(form, field).value = value
    with pytest.raises(ConfigError) as raised:
        form.request()
    assert expected in str(raised.value)


def test_form_rejects_train_size_past_dataset(tmp_path):
    roomy = AppSettings(state_dir=str(tmp_path / "state"), max_train_size=100000)
    form = TrainingForm(roomy)
    form.dataset.value = "fashion_mnist"
    form.train_size.value = 70000

    with pytest.raises(ConfigError, match="to 60,000 .* Received: 70000"):
        form.request()


def test_form_rejects_no_optimizer(settings):
    form = TrainingForm(settings)
    form.optimizers.value = ()
    assert form.check() == "Choose at least one optimizer in the Optimizers list."


def test_form_reports_fallback_preset(settings):
    form = TrainingForm(settings)
    form.train_size.value = 400
    form.optimizers.value = ("lion",)
    form.preset.value = "keras2017"
    request = form.request()
    assert any("Keras 2.0 had no 'lion' optimizer" in note for note in request.notes)


# The app: Train rejects invalid requests and starts nothing.


def test_train_rejects_invalid_learning_rate(settings):
    app = build_app(settings)
    app.form.panels["sgd"].controls["learning_rate"].text.value = "-1"
    app.train_button.click()
    assert "sgd: learning_rate must be a float in (0, inf). Received: learning_rate=-1.0" in app.status.value
    assert app.live is None
    assert not app.busy
    assert not app.train_button.disabled
    assert app.stop_button.disabled
    assert app.slots.waiting_count() == 0


def test_train_rejects_cap(settings):
    app = build_app(settings)
    app.form.epochs.value = 99
    app.train_button.click()
    assert "epochs must be at most 5 on this server" in app.status.value
    assert app.live is None


def test_layout_places_parts(settings):
    app = build_app(settings)
    assert isinstance(app.layout, ipywidgets.AppLayout)
    assert app.layout.center is app.plots
    assert app.export_slot in app.layout.footer.children
    assert app.summary in app.layout.footer.children
    assert app.form.widget in app.layout.left_sidebar.children


@pytest.mark.slow
def test_app_trains_queued_and_stores(settings, fashion_available):
    app = build_app(settings)
    app.owner.value = "ada"
    app.form.optimizers.value = ("sgd",)
    app.form.epochs.value = 1
    app.form.train_size.value = 200
    other_kernel = TrainingSlots(settings.queue_dir, settings.max_concurrent_trainings)
    blocker = [other_kernel.request() for _ in range(settings.max_concurrent_trainings)]
    assert all(ticket.try_acquire() for ticket in blocker)

    app.train_button.click()
    assert app.busy
    assert app.train_button.disabled
    deadline = time.monotonic() + 10
    while "You are next" not in app.status.value and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "You are next: waiting for a running training to finish" in app.status.value
    for ticket in blocker:
        ticket.release()

    deadline = time.monotonic() + 120
    while app.busy and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not app.busy
    assert app.live.result.runs[0]["status"] == "finished"
    assert app.slots.running_count() == 0
    assert not app.train_button.disabled
    from labkit.export import ExportPanel

    assert isinstance(app.export_slot.children[-1], ExportPanel)
    assert app.export_slot.children[-1].source is app.live.result
    options = app.stored_list.options
    assert len(options) == 1
    assert "ada | sgd" in options[0][0]
    assert "1 finished" in options[0][0]

    app.stored_list.value = options[0][1]
    app.overlay_stored()
    assert "Drew" in app.stored_message.value
    app.study_overlay.value = True
    assert "2017 study" in app.study_table.value
    app.open_stored()
    assert "Summary" in app.summary.children[0].value
    stored_panel = app.export_slot.children[-1]
    assert stored_panel.source.comparison_id == options[0][1]
    assert settings.state_path in stored_panel.source.output_dir.parents


# The queue across processes.


def test_queue_first_come_first_served(tmp_path):
    slots = TrainingSlots(tmp_path, 1)
    first, second, third = slots.request(), slots.request(), slots.request()
    assert [first.position(), second.position(), third.position()] == [0, 1, 2]
    assert not second.try_acquire()
    assert first.try_acquire()
    assert first.slot == 0
    assert slots.running_count() == 1
    assert second.position() == 0
    assert not second.try_acquire()
    first.release()
    assert slots.running_count() == 0
    assert second.try_acquire()
    assert not third.try_acquire()
    second.release()
    third.release()
    assert slots.waiting_count() == 0


def test_queue_capacity_two(tmp_path):
    slots = TrainingSlots(tmp_path, 2)
    tickets = [slots.request() for _ in range(3)]
    assert tickets[0].try_acquire()
    assert tickets[1].try_acquire()
    assert not tickets[2].try_acquire()
    assert slots.running_count() == 2
    assert {tickets[0].slot, tickets[1].slot} == {0, 1}
    tickets[1].release()
    assert tickets[2].try_acquire()
    for ticket in tickets:
        ticket.release()


def test_queue_wait_reports_position_and_cancels(tmp_path):
    slots = TrainingSlots(tmp_path, 1, poll_s=0.02)
    holder = slots.request()
    assert holder.try_acquire()
    waiter = slots.request()
    positions = []
    cancel = threading.Event()
    timer = threading.Timer(0.2, cancel.set)
    timer.start()
    assert waiter.wait(on_position=positions.append, cancel=cancel) is False
    assert positions == [0]
    assert not waiter.waiting
    assert slots.waiting_count() == 0
    holder.release()


def test_queue_wait_times_out(tmp_path):
    slots = TrainingSlots(tmp_path, 1, poll_s=0.02)
    holder = slots.request()
    assert holder.try_acquire()
    assert slots.request().wait(timeout_s=0.1) is False
    holder.release()


def _hold_slot(folder, ready, release):
    ticket = TrainingSlots(folder, 1).request()
    assert ticket.try_acquire()
    ready.set()
    release.wait(30)


def _wait_in_queue(folder, ready):
    slots = TrainingSlots(folder, 1)
    ticket = slots.request()
    ready.set()
    ticket.wait(timeout_s=30)


def test_queue_slot_freed_when_process_dies(tmp_path):
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    process = context.Process(target=_hold_slot, args=(tmp_path, ready, release))
    process.start()
    assert ready.wait(60)
    slots = TrainingSlots(tmp_path, 1)
    assert slots.running_count() == 1
    ticket = slots.request()
    assert not ticket.try_acquire()

    process.kill()
    process.join(10)
    assert ticket.try_acquire()
    ticket.release()


def test_queue_ticket_of_dead_process_removed(tmp_path):
    context = multiprocessing.get_context("spawn")
    holder = TrainingSlots(tmp_path, 1).request()
    assert holder.try_acquire()
    ready = context.Event()
    process = context.Process(target=_wait_in_queue, args=(tmp_path, ready))
    process.start()
    assert ready.wait(60)
    slots = TrainingSlots(tmp_path, 1)
    assert slots.waiting_count() == 1
    mine = slots.request()
    assert mine.position() == 1

    process.kill()
    process.join(10)
    assert mine.position() == 0
    assert slots.waiting_count() == 1
    mine.release()
    holder.release()


def test_queue_rejects_bad_capacity(tmp_path):
    with pytest.raises(ValueError, match="capacity must be an integer >= 1. Received: capacity=0"):
        TrainingSlots(tmp_path, 0)


# Settings and serving.


def test_settings_file_and_flags(tmp_path):
    config = tmp_path / "class.toml"
    config.write_text('max_concurrent_trainings = 4\nmax_epochs = 8\nstate_dir = "%s"\n' % (tmp_path / "s"))
    args = serve.build_parser().parse_args(["--config", str(config), "--max-epochs", "6"])
    settings = serve.read_settings(args)
    assert settings.max_concurrent_trainings == 4
    assert settings.max_epochs == 6
    assert settings.max_seeds == 3
    assert settings.store_url == f"sqlite:///{tmp_path / 's' / 'results.db'}"


def test_settings_reject_unknown_key(tmp_path):
    config = tmp_path / "class.toml"
    config.write_text("max_epoch = 8\n")
    with pytest.raises(ConfigError, match="Unknown key\\(s\\) in .*: max_epoch. Known keys: max_concurrent"):
        AppSettings.from_file(config)


def test_settings_reject_invalid_value():
    with pytest.raises(ConfigError, match="max_epochs must be an integer >= 1. Received: max_epochs=0"):
        AppSettings(max_epochs=0)


def test_settings_round_trip_environment(tmp_path, monkeypatch):
    settings = AppSettings(state_dir=str(tmp_path), max_seeds=1)
    monkeypatch.setenv("LABKIT_APP_SETTINGS", settings.to_json())
    assert AppSettings.from_environment() == settings


def test_voila_arguments_defaults(tmp_path):
    args = serve.build_parser().parse_args([])
    arguments = serve.voila_arguments(args, tmp_path / "app.ipynb")
    assert "--Voila.ip=127.0.0.1" in arguments
    assert "--port=8866" in arguments
    assert "--preheat_kernel=True" in arguments
    assert "--pool_size=2" in arguments
    assert "--template=labkit" in arguments
    assert "--MappingKernelManager.cull_idle_timeout=600" in arguments
    assert "--MappingKernelManager.cull_connected=False" in arguments
    assert not any("xsrf" in argument.lower() for argument in arguments)


def test_serve_rejects_bad_config(tmp_path, capsys):
    config = tmp_path / "class.toml"
    config.write_text("max_epochs = 0\n")
    assert serve.main(["--config", str(config)]) == 2
    assert "max_epochs must be an integer >= 1. Received: max_epochs=0" in capsys.readouterr().err


def test_template_drops_external_style_sheets(tmp_path):
    import jinja2

    data_dir = serve.write_template(tmp_path)
    assert json.loads((data_dir / "voila/templates/labkit/conf.json").read_text()) == {"base_template": "lab"}
    environment = jinja2.Environment(loader=jinja2.DictLoader({
        "lab/index.html.j2": "{% block notebook_css %}<style>a{}</style>\n"
                             '<link rel="stylesheet" href="https://cdn.example/x.css">\n'
                             '<link rel="stylesheet" href="/local.css">{% endblock %}',
        "labkit.html.j2": (data_dir / "voila/templates/labkit/index.html.j2").read_text(),
    }), autoescape=True)
    rendered = environment.get_template("labkit.html.j2").render()
    assert "https://" not in rendered
    assert "/local.css" in rendered
    assert "<style>a{}</style>" in rendered


def test_notebook_is_thin_and_current():
    notebook = json.loads((REPO / "notebooks" / "app.ipynb").read_text())
    assert notebook == serve.app_notebook()
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(cell["outputs"] == [] for cell in code)
    assert code[0]["metadata"]["tags"] == ["parameters"]
    assert "build_app(settings)" in code[-1]["source"]


def test_server_does_not_import_keras():
    import subprocess
    import sys

    script = "import sys, labkit.app.serve; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "False False"


def test_owner_in_comparison_name():
    name = comparison_name(" ada ", ("sgd", "adam"))
    assert name == "ada | sgd vs adam"
    assert owner_of(name) == "ada"
    assert owner_of("sgd vs adam") == ""


def test_parse_seeds():
    assert parse_seeds("0, 1;2") == (0, 1, 2)
    with pytest.raises(ConfigError, match="Give at least one seed"):
        parse_seeds(" , ")
    with pytest.raises(ConfigError, match="non-negative integers"):
        parse_seeds("\u00b2")


@pytest.mark.parametrize("flags, expected", [
    (["--port", "70000"], "--port must be a TCP port from 0 to 65535"),
    (["--port", "-1"], "Received: --port -1"),
    (["--ip", "999.1.1.1"], "is not an address of this machine"),
    (["--pool-size", "-1"], "Received: --pool-size -1"),
])
def test_serve_rejects_bad_flags(tmp_path, capsys, flags, expected):
    state = tmp_path / "state"

    assert serve.main([*flags, "--state-dir", str(state)]) == 2

    assert expected in capsys.readouterr().err
    assert not state.exists()


@pytest.mark.parametrize("text, expected", [
    ("store = 5\n", "store must be an SQLAlchemy URL"),
    ('store = "notaurl"\n', "store is not a valid SQLAlchemy URL"),
    ("data_dir = 7\n", "data_dir must be a folder path"),
])
def test_settings_reject_bad_store_and_data_dir(tmp_path, text, expected):
    config = tmp_path / "settings.toml"
    config.write_text(text)

    with pytest.raises(ConfigError, match=expected):
        AppSettings.from_file(config)


def test_settings_file_not_utf8(tmp_path):
    config = tmp_path / "settings.toml"
    config.write_bytes(b"\xff\xfe bad")

    with pytest.raises(ConfigError, match="Give a UTF-8 TOML file"):
        AppSettings.from_file(config)


def test_kernel_environment_set():
    assert os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
