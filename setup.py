"""The build step of `pip install .` (pyproject.toml): CMake builds the compiled module backprop._backprop
(the target backprop_python: the library and the module, nothing else) with the Python that runs pip, and
setuptools packages it with python/backprop/ (the estimators, py.typed) and the type stub the build writes.

CMake options: CUDA is off unless asked; CMAKE_ARGS adds any, e.g.
    CMAKE_ARGS="-DBACKPROP_WITH_CUDA=ON -DCMAKE_CXX_COMPILER_LAUNCHER=ccache" pip install --no-build-isolation .
"""
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent
# setuptools build and egg-info folders (below): egg_info needs its folder to exist.
(ROOT / "build-pip").mkdir(exist_ok=True)


def project_version():
    """CMake's project version (CMakeLists.txt), the one version of the project."""
    match = re.search(r"project\(backprop\s+VERSION\s+([0-9.]+)", (ROOT / "CMakeLists.txt").read_text())
    if not match:
        raise RuntimeError("CMakeLists.txt: expected project(backprop VERSION x.y.z)")
    return match.group(1)


class CMakeBuild(build_ext):
    """Configures and builds the target backprop_python in build_temp, then copies the module and its type stub
    where setuptools packages them."""

    def build_extension(self, ext):
        build = pathlib.Path(self.build_temp).resolve() / "cmake"
        build.mkdir(parents=True, exist_ok=True)
        configure = ["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                     f"-DPython_EXECUTABLE={sys.executable}", f"-DPYTHON_EXECUTABLE={sys.executable}",
                     "-DBACKPROP_WITH_PYTHON=ON", "-DBACKPROP_WITH_CUDA=OFF", "-DBACKPROP_WITH_MPI=OFF",
                     "-DBACKPROP_WITH_ONNX=OFF", "-DBACKPROP_BUILD_TESTS=OFF", "-DBACKPROP_INSTALL=OFF"]
        configure += shlex.split(os.environ.get("CMAKE_ARGS", ""))  # later options win
        subprocess.run(configure, check=True)
        subprocess.run(["cmake", "--build", str(build), "--target", "backprop_python", "-j2"], check=True)
        built = sorted((build / "python" / "backprop").glob("_backprop*.so"))
        if len(built) != 1:
            raise RuntimeError(f"{build / 'python' / 'backprop'}: expected one _backprop*.so, found {built}")
        destination = pathlib.Path(self.get_ext_fullpath(ext.name))
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[0], destination)
        # The type stub, written by the build from its template (python/CMakeLists.txt): packaged beside the module.
        shutil.copyfile(build / "python" / "backprop" / "_backprop.pyi", destination.parent / "_backprop.pyi")


setup(
    version=project_version(),
    packages=["backprop"],
    package_dir={"backprop": "python/backprop"},
    package_data={"backprop": ["py.typed"]},
    ext_modules=[Extension("backprop._backprop", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    # Not build/: that is CMake's build folder by the README's convention.
    options={"build": {"build_base": "build-pip"}, "egg_info": {"egg_base": "build-pip"}},
    zip_safe=False,
)
