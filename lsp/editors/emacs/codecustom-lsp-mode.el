;;; codecustom-lsp-mode.el --- codecustom language server with lsp-mode  -*- lexical-binding: t; -*-

;; Registers codecustom as an lsp-mode add-on client, so it runs next to your usual server
;; (pyright, jdtls, ...) and adds model completions to the same completion list.

(require 'lsp-mode)

(defgroup codecustom nil "codecustom language server." :group 'lsp-mode)

(defcustom codecustom-lsp-command '("codecustom" "lsp")
  "Command that starts the codecustom language server."
  :type '(repeat string))

(defcustom codecustom-lsp-initialization-options '(:lsp (:debounce_ms 150 :max_new_tokens 48))
  "initializationOptions sent to the server (same keys as .codecustom.toml)."
  :type 'plist)

(lsp-register-client
 (make-lsp-client
  :new-connection (lsp-stdio-connection (lambda () codecustom-lsp-command))
  :activation-fn (lsp-activate-on "python" "java" "javascript" "typescript" "go")
  :server-id 'codecustom
  :add-on? t
  :priority -1
  :initialization-options (lambda () codecustom-lsp-initialization-options)
  :notification-handlers
  (ht ("codecustom/status"
       (lambda (_workspace params)
         (setq codecustom-last-status params))))))

(defvar codecustom-last-status nil "Last codecustom/status notification (a hash table).")

(defun codecustom-generate-tests ()
  "Generate unit tests for the function at point (the server sends a workspace edit)."
  (interactive)
  (lsp-send-execute-command "codecustom.generateTests"
                            (vector (lsp--buffer-uri) (lsp--cur-position))))

;; Ghost text: recent lsp-mode versions have `lsp-inline-completion-mode' (textDocument/inlineCompletion).

(provide 'codecustom-lsp-mode)
;;; codecustom-lsp-mode.el ends here
