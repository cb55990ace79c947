#include "bindings.h"
#include "pyml/thread_pool.h"

PYBIND11_MODULE(_native, m) {
  m.doc() = "pyml's native core: decode, resize, normalize and postprocess (GIL released).";
#ifdef PYML_VERSION
  m.attr("__version__") = PYML_VERSION;
#endif
  pyml::python::register_errors(m);
  pyml::python::register_image(m);
  pyml::python::register_preprocess(m);
  pyml::python::register_postprocess(m);
  pyml::python::register_model(m);
  pyml::python::register_train(m);
  m.def("usable_cores", &pyml::usable_cores,
        "The cores this process may use: its affinity mask, capped by its cgroup's CPU quota.");
}
