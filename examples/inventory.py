"""A small shop inventory: items, their prices and how many of each are in stock."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Item:
    name: str
    price: float
    quantity: int = 0

    @property
    def value(self) -> float:
        return self.price * self.quantity


@dataclass
class Inventory:
    items: dict[str, Item] = field(default_factory=dict)

    def add(self, item: Item) -> None:
        if item.name in self.items:
            self.items[item.name].quantity += item.quantity
        else:
            self.items[item.name] = item

    def remove(self, name: str) -> Item:
        return self.items.pop(name)

    def total_value(self) -> float:
        return sum(item.value for item in self.items.values())

    def total_quantity(self) -> int:
        

    def cheapest(self) -> Item | None:
        if not self.items:
            return None
        return min(self.items.values(), key=lambda item: item.price)

    def in_stock(self) -> list[Item]:
        return [item for item in self.items.values() if item.quantity > 0]
