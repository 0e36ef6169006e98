"""Loading through llama-cpp-python on a CPU with Intel AMX: no extra buffer types (their AMX path segfaults)."""

from types import SimpleNamespace

from smallcoder_lsp.backends.llama_cpp import cpu_has_amx, without_extra_buffer_types


def test_amx_is_read_from_the_cpu_flags(tmp_path):
    sapphire = tmp_path / "sapphire"
    sapphire.write_text("processor\t: 0\nflags\t\t: fpu avx512f amx_bf16 amx_tile amx_int8 avx_vnni\n\n")
    epyc = tmp_path / "epyc"
    epyc.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni\n\n")
    assert cpu_has_amx(str(sapphire))
    assert not cpu_has_amx(str(epyc))
    assert not cpu_has_amx(str(tmp_path / "missing"))  # not Linux: no AMX path to avoid


def test_models_loaded_inside_get_no_extra_buffer_types_and_the_defaults_come_back():
    def defaults():
        return SimpleNamespace(use_extra_bufts=True, n_gpu_layers=0)

    lib = SimpleNamespace(llama_cpp=SimpleNamespace(llama_model_default_params=defaults))
    with without_extra_buffer_types(lib):
        params = lib.llama_cpp.llama_model_default_params()
        assert params.use_extra_bufts is False and params.n_gpu_layers == 0
    assert lib.llama_cpp.llama_model_default_params is defaults
