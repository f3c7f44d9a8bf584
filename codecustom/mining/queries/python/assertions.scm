; Assertions that are statements rather than calls, and `with pytest.raises(...)` blocks.

(assert_statement) @assert

(with_statement
  (with_clause
    (with_item
      value: (call
        function: (attribute
          attribute: (identifier) @ctx_name))))) @with_assert
