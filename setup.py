from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="kerasnac",
    version="0.1.0",
    description="Neural architecture codesign of QKeras models for FPGAs (hls4ml) on keras-tuner",
    long_description=Path(__file__).with_name("README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.14",
    packages=find_packages(include=["kerasnac", "kerasnac.*"]) + ["kerasnac.search_spaces"],
    # the shipped YAML spaces live in search_spaces/ and install as kerasnac/search_spaces/
    package_dir={"kerasnac.search_spaces": "search_spaces"},
    package_data={"kerasnac.search_spaces": ["*.yaml"], "kerasnac.datasets": ["data/*.npz"]},
    install_requires=[
        "tensorflow>=2.16,<2.22",
        "tf_keras>=2.16,<2.22",
        "QKeras>=0.9,<0.10",
        "pyparsing>=3",
        "tensorflow-model-optimization>=0.8,<0.9",
        "keras-tuner>=1.4.7,<1.5",
        "tensorboard>=2.16",
        "six",
        "hls4ml>=1.1,<1.4",
        "numpy>=1.26",
        "scipy>=1.10",
        "h5py>=3.8",
        "pandas>=2.0",
        "matplotlib>=3.7",
        "scikit-learn>=1.3",
        "tqdm>=4.60",
        "tabulate>=0.9",
        "PyYAML>=6.0",
    ],
    extras_require={
        "dev": ["pytest>=8", "pytest-xdist>=3"],
        "notebooks": ["jupyter", "nbclient>=0.10", "ipykernel", "papermill"],
        "bench": ["optuna>=4"],
        # da4ml distributed arithmetic: the da_lut/da_depth costs, Verilog and the Synthesis callback
        # (yosys and verilator are system packages: apt-get install yosys verilator)
        "da": ["da4ml>=0.6,<0.7"],
        # Pythia 8 jet generation; 8.317.2 has binary wheels, 8.318 builds from source for > 1 h here
        "pythia": ["pythia8mc>=8.310", "fastjet>=3.4"],
    },
    entry_points={"console_scripts": ["kerasnac = kerasnac.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Scientific/Engineering :: Physics",
    ],
)
