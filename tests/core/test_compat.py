"""Every transformers internal swiftcls uses (swiftcls/core/compat.py) still behaves as swiftcls expects, and no other
module touches one. After a transformers upgrade, run this file first: a failure names the internal that moved."""

import ast
import importlib
import importlib.util
import os
import pkgutil
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import (
    AutoModelForSequenceClassification,
    LlamaConfig,
    LlamaForSequenceClassification,
    Trainer,
    TrainingArguments,
)

from swiftcls.core import compat

PACKAGE = Path(__file__).resolve().parents[2] / "swiftcls"
COMPAT = PACKAGE / "core" / "compat.py"


# ---------------------------------------------------------------------------------------------------------------
# Trainer hooks


class Line(torch.nn.Module):
    """The smallest model Trainer trains: one weight, squared error."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, x, labels):
        return {"loss": ((self.linear(x).squeeze(-1) - labels) ** 2).mean()}


class Recording(compat.HookedTrainer):
    def write_checkpoint(self, model, trial):
        self.saved_at = [*getattr(self, "saved_at", []), self.state.global_step]
        super().write_checkpoint(model, trial)


def trainer(out, cls=compat.HookedTrainer, **kwargs):
    args = TrainingArguments(str(out), max_steps=2, per_device_train_batch_size=2, learning_rate=0.1, use_cpu=True,
                             report_to="none", logging_strategy="no", disable_tqdm=True, **kwargs)
    rows = [{"x": torch.tensor([float(i), 1.0]), "labels": torch.tensor(float(i % 2))} for i in range(4)]
    return cls(model=Line(), args=args, train_dataset=rows)


def test_trainer_saves_through_write_checkpoint(tmp_path):
    """Trainer still calls the private ``_save_checkpoint`` hook at each save (SeqClsTrainer's atomic saves)."""
    run = trainer(tmp_path / "run", Recording, save_strategy="steps", save_steps=1)
    run.train()
    assert run.saved_at == [1, 2]
    for step in (1, 2):  # the default write_checkpoint is transformers' own save
        assert {"trainer_state.json", "model.safetensors", "optimizer.pt"} <= set(
            os.listdir(tmp_path / "run" / f"checkpoint-{step}"))


def test_output_dir_redirected_moves_one_save(tmp_path):
    run = trainer(tmp_path / "run", save_strategy="no")
    run.train()
    assert run.run_output_dir() == str(tmp_path / "run")
    with run.output_dir_redirected(str(tmp_path / "staging")):
        assert run.run_output_dir() == str(tmp_path / "staging")
        run.hf_save_checkpoint(run.model, None)
    assert (tmp_path / "staging" / "checkpoint-2" / "trainer_state.json").is_file()
    assert not (tmp_path / "run" / "checkpoint-2").exists()
    assert run.run_output_dir() == str(tmp_path / "run") and "_get_output_dir" not in vars(run)


def test_prepare_inputs_moves_tensors_to_the_training_device(tmp_path):
    run = trainer(tmp_path / "run")
    batch = {"x": torch.ones(1, 2), "labels": torch.zeros(1)}
    prepared = run.prepare_inputs(batch)
    assert set(prepared) == {"x", "labels"}
    assert all(v.device == run.args.device and torch.equal(v.cpu(), batch[k]) for k, v in prepared.items())


def test_train_sampler_orders_the_train_dataloader(tmp_path):
    """Trainer still builds its train dataloader through the private ``_get_train_sampler`` hook."""

    class Reversed(compat.HookedTrainer):
        def train_sampler(self, train_dataset):
            return list(reversed(range(len(train_dataset))))

    run = trainer(tmp_path / "run", Reversed)
    assert [batch["x"][:, 0].tolist() for batch in run.get_train_dataloader()] == [[3.0, 2.0], [1.0, 0.0]]
    default = trainer(tmp_path / "default")  # transformers' own choice for --train_sampling_strategy random
    assert isinstance(default.hf_train_sampler(default.train_dataset), torch.utils.data.RandomSampler)


def test_eval_sampler_orders_the_eval_dataloader(tmp_path):
    """Trainer still builds its eval dataloaders through the private ``_get_eval_sampler`` hook."""

    class Reversed(compat.HookedTrainer):
        def eval_sampler(self, eval_dataset):
            return list(reversed(range(len(eval_dataset))))

    run = trainer(tmp_path / "run", Reversed, per_device_eval_batch_size=2)
    assert [batch["x"][:, 0].tolist() for batch in run.get_eval_dataloader(run.train_dataset)] == [[3.0, 2.0],
                                                                                                   [1.0, 0.0]]
    default = trainer(tmp_path / "default")
    assert isinstance(default.hf_eval_sampler(default.train_dataset), torch.utils.data.SequentialSampler)


def test_length_grouped_indices_is_a_seeded_length_grouping():
    lengths = [5, 40, 3, 17, 9, 22, 1, 30, 12, 8, 27, 2, 15, 6, 33, 11]
    order = compat.length_grouped_indices(lengths, 2, torch.Generator().manual_seed(0))
    assert sorted(order) == list(range(len(lengths))) and lengths[order[0]] == max(lengths)
    # 16 rows, batches of 2: mega-batches of 4 rows, each sorted longest first (bar its first row, which the
    # longest row of all swapped places with).
    for start in range(0, len(order), 4):
        block = [lengths[i] for i in order[start + 1:start + 4]]
        assert block == sorted(block, reverse=True)
    assert compat.length_grouped_indices(lengths, 2, torch.Generator().manual_seed(0)) == order
    assert compat.length_grouped_indices(lengths, 2, torch.Generator().manual_seed(1)) != order


def test_rotate_checkpoints_keeps_the_newest_and_the_best(tmp_path):
    for step in range(1, 5):
        (tmp_path / f"checkpoint-{step}").mkdir()
        os.utime(tmp_path / f"checkpoint-{step}", (1000 + step, 1000 + step))
    compat.rotate_checkpoints(str(tmp_path), 2, str(tmp_path / "checkpoint-1"))
    assert sorted(os.listdir(tmp_path)) == ["checkpoint-1", "checkpoint-4"]
    compat.rotate_checkpoints(str(tmp_path), 1, None)
    assert os.listdir(tmp_path) == ["checkpoint-4"]
    compat.rotate_checkpoints(str(tmp_path), None, None)  # no limit: nothing is deleted
    assert os.listdir(tmp_path) == ["checkpoint-4"]


# ---------------------------------------------------------------------------------------------------------------
# Attention


def tiny_llama(num_labels=2, **kwargs) -> LlamaForSequenceClassification:
    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=2, pad_token_id=0, num_labels=num_labels)
    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_config(config, **kwargs).eval()


def test_attn_implementation_follows_loading_and_switching():
    model = tiny_llama(attn_implementation="eager")
    assert compat.attn_implementation(model.config) == "eager"
    model.set_attn_implementation("sdpa")
    assert compat.attn_implementation(model.config) == "sdpa"


def test_sdpa_attention_forward_is_causal_gqa_attention():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 4, 5, 8), torch.randn(2, 2, 5, 8), torch.randn(2, 2, 5, 8)
    module = torch.nn.Module()
    module.is_causal, module.num_key_value_groups = True, 2
    out, weights = compat.sdpa_attention_forward(module, q, k, v, None, scaling=0.25)
    expected = F.scaled_dot_product_attention(q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1),
                                              is_causal=True, scale=0.25).transpose(1, 2)
    assert weights is None and out.shape == (2, 5, 4, 8)
    torch.testing.assert_close(out, expected)


def test_registered_attention_gets_the_mask_and_runs_like_sdpa():
    """``register_attention`` + the sdpa functions, as transformers calls them (swiftcls_varlen's padded path)."""
    calls = []

    def forward(*args, **kwargs):
        calls.append("forward")
        return compat.sdpa_attention_forward(*args, **kwargs)

    def mask(*args, attention_mask=None, **kwargs):
        calls.append(("mask", attention_mask is not None))
        return compat.sdpa_mask(*args, attention_mask=attention_mask, **kwargs)

    compat.register_attention("swiftcls_compat_test", forward, mask)
    model = tiny_llama(attn_implementation="sdpa")
    ids = torch.tensor([[5, 6, 7, 8], [5, 6, 0, 0]])
    with torch.no_grad():
        reference = model(input_ids=ids, attention_mask=(ids != 0).long()).logits
        model.set_attn_implementation("swiftcls_compat_test")
        logits = model(input_ids=ids, attention_mask=(ids != 0).long()).logits
        alone = model(input_ids=ids[1:, :2]).logits  # the padded row without its padding
    assert compat.attn_implementation(model.config) == "swiftcls_compat_test"
    assert calls[0] == ("mask", True) and "forward" in calls
    torch.testing.assert_close(logits, reference)
    torch.testing.assert_close(logits[1:], alone, atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------------------------------------------------------
# Checkpoint key conversions


class RenamedHeadLlamaForSequenceClassification(LlamaForSequenceClassification):
    """A class of its own, so the renaming registered for it affects no other test."""


def test_registered_key_renames_apply_when_loading(tmp_path):
    generation = compat.checkpoint_key_renames("Qwen2VLForConditionalGeneration")
    assert generation, "models/vl.py reuses the generation class's conversions for old-format Qwen2-VL checkpoints"
    name = RenamedHeadLlamaForSequenceClassification.__name__
    assert compat.checkpoint_key_renames(name) is None
    head = compat.key_renaming(r"^language_model\.score\.", "score.")  # vLLM's Qwen2-VL head layout
    compat.register_checkpoint_key_renames(name, [head])
    assert [repr(r) for r in compat.checkpoint_key_renames(name)] == [repr(head)]  # copies come back

    from safetensors.torch import load_file, save_file

    model = tiny_llama(num_labels=3)
    model.save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    weights["language_model.score.weight"] = weights.pop("score.weight") + 1.0  # moved and changed
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    loaded = RenamedHeadLlamaForSequenceClassification.from_pretrained(tmp_path)
    torch.testing.assert_close(loaded.score.weight, weights["language_model.score.weight"])


# ---------------------------------------------------------------------------------------------------------------
# The rule: no module but core/compat.py touches a transformers internal

PUBLIC_SUBMODULES = ("transformers.models.", "transformers.modeling_outputs")  # documented homes of public classes
NAMEDTUPLE_API = {"_replace", "_asdict", "_fields", "_make"}  # underscored, but public


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in NAMEDTUPLE_API


def own_private_names(trees) -> set[str]:
    """Underscored names swiftcls defines itself: functions, classes, module/class variables, ``self._x``."""
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                  and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                names.add(node.attr)
    return {n for n in names if _private(n)}


def _internal_module(module: str) -> bool:
    return module != "transformers" and not module.startswith(PUBLIC_SUBMODULES)


def violations(tree: ast.AST, where: str, own: set[str]) -> list[str]:
    """Each place in ``tree`` that imports a transformers internal or uses a private name swiftcls does not define.

    A method overriding a private transformers method is swiftcls's own name to this scan; see
    :func:`private_overrides` for that.
    """
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "transformers":
            if _internal_module(node.module):
                found.append(f"{where}:{node.lineno}: imports internal module {node.module}")
            for alias in node.names if node.module == "transformers" else ():
                if _private(alias.name) or importlib.util.find_spec(f"transformers.{alias.name}"):
                    found.append(f"{where}:{node.lineno}: imports internal transformers.{alias.name}")
        elif isinstance(node, ast.Import):
            found += [f"{where}:{node.lineno}: imports internal module {a.name}" for a in node.names
                      if a.name.split(".")[0] == "transformers" and _internal_module(a.name)]
        elif isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in own:
            found.append(f"{where}:{node.lineno}: uses private attribute {node.attr}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) > 1
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and _private(node.args[1].value) and node.args[1].value not in own):
            found.append(f"{where}:{node.lineno}: {node.func.id}() of private attribute {node.args[1].value}")
    return found


def private_overrides(cls: type) -> list[str]:
    """Private names ``cls`` defines over a transformers base class's own (an override of an internal)."""
    bases = [base for base in cls.__mro__[1:] if base.__module__.split(".")[0] == "transformers"]
    return sorted(name for name in vars(cls) if _private(name) and any(name in vars(base) for base in bases))


def test_the_scan_catches_each_kind_of_internal_use():
    source = '''
from transformers.masking_utils import sdpa_mask
from transformers import conversion_mapping, _private_helper, Trainer
from transformers.models.llama.modeling_llama import LlamaModel
from transformers.modeling_outputs import SequenceClassifierOutput
import transformers.trainer_utils
class T(Trainer):
    def step(self, model, trial):
        self._own = self._prepare_inputs(1)
        return self._own, self._helper()
    def _helper(self):
        return getattr(self.model.config, "_attn_implementation"), self.row._replace(a=1)
'''
    tree = ast.parse(source)
    found = [v.split(": ", 1)[1] for v in violations(tree, "x.py", own_private_names([tree]))]
    assert sorted(found) == sorted([
        "imports internal module transformers.masking_utils", "imports internal transformers.conversion_mapping",
        "imports internal transformers._private_helper", "imports internal module transformers.trainer_utils",
        "uses private attribute _prepare_inputs", "getattr() of private attribute _attn_implementation"])

    class Saving(Trainer):
        def _save_checkpoint(self, model, trial):  # an internal hook
            pass

        def _save_copy(self):  # a private name of its own
            pass

    assert private_overrides(Saving) == ["_save_checkpoint"]
    assert private_overrides(compat.HookedTrainer) == ["_get_eval_sampler", "_get_train_sampler", "_save_checkpoint"]


def test_only_compat_touches_transformers_internals():
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(PACKAGE.rglob("*.py"))}
    # compat.py's names are transformers' (``def _save_checkpoint``, ``self._get_output_dir = ...``), not swiftcls's
    own = own_private_names(tree for path, tree in trees.items() if path != COMPAT)
    found = [v for path, tree in trees.items() if path != COMPAT
             for v in violations(tree, str(path.relative_to(PACKAGE.parent)), own)]
    assert violations(trees[COMPAT], "compat", own), "the scan must see the internals compat.py wraps"
    for info in pkgutil.walk_packages([str(PACKAGE)], "swiftcls."):
        if info.name not in ("swiftcls.__main__", compat.__name__):
            module = importlib.import_module(info.name)
            found += [f"{info.name}.{cls.__name__} overrides transformers' private {name}"
                      for cls in vars(module).values() if isinstance(cls, type) and cls.__module__ == info.name
                      for name in private_overrides(cls)]
    assert not found, "route these through swiftcls/core/compat.py (with a test here):\n" + "\n".join(found)


def test_installed_transformers_is_in_the_pinned_range():
    """requirements/base.txt pins the range this suite ran with; widen it only after the suite passed on the new one."""
    import transformers
    from packaging.requirements import Requirement

    lines = (PACKAGE.parent / "requirements" / "base.txt").read_text().splitlines()
    pin = next(Requirement(line) for line in lines if line.startswith("transformers"))
    assert any(spec.operator in ("<", "<=", "==", "~=") for spec in pin.specifier), f"no upper bound: {pin}"
    assert transformers.__version__ in pin.specifier, (
        f"transformers {transformers.__version__} is outside the tested range {pin.specifier}: see DEVELOPERS.md, "
        "'Upgrading transformers'")
