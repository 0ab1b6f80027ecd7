"""A small class registry shared by blocks and callbacks (a decorator, names, lookup)."""

from __future__ import annotations


class ClassRegistry:
    """``register(name)`` decorates subclasses of ``base`` and sets ``cls.<name_attr> = name``."""

    def __init__(self, base_getter, name_attr: str, kind: str):
        self._base_getter, self._attr, self.kind = base_getter, name_attr, kind
        self._classes: dict[str, type] = {}

    def register(self, name: str):
        def deco(cls):
            base = self._base_getter()
            if not issubclass(cls, base):
                raise TypeError(f"{cls.__name__} must subclass {base.__module__.split('.')[0]}.{base.__name__}")
            setattr(cls, self._attr, name)
            self._classes[name] = cls
            return cls

        return deco

    def names(self) -> list[str]:
        return sorted(self._classes)

    def __contains__(self, name) -> bool:
        return name in self._classes

    def __getitem__(self, name: str) -> type:
        return self._classes[name]
