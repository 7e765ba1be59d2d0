// TaskRef: a callable passed down without allocating (the thread pool's work, a pass's per-batch callback).
#pragma once

namespace backprop {

// A non-owning reference to a callable taking Args (like std::function, but it never allocates: a
// training step must not). The callable must outlive the call it is passed to.
template <typename... Args>
class TaskRef {
 public:
  template <typename F>
  TaskRef(const F& f)  // NOLINT: implicit on purpose, so that a lambda can be passed directly
      : object_(&f), call_([](const void* object, Args... args) { (*static_cast<const F*>(object))(args...); }) {}
  void operator()(Args... args) const { call_(object_, args...); }

 private:
  const void* object_;
  void (*call_)(const void*, Args...);
};

}  // namespace backprop
