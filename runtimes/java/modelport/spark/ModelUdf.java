package modelport.spark;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

import modelport.runtime.ModelSpec;
import modelport.runtime.ModelSpec.ColumnSpec;
import modelport.runtime.ModelSpec.DType;
import modelport.runtime.ModelSpec.TensorSpec;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * A compiled model as a Spark SQL function: one struct of the model's input columns in, one
 * struct of its output columns (the CSV program's header: label, prob_CLASS, prediction, ...)
 * out. Runs in the executors' JVMs, with no Python worker.
 *
 * <pre>
 *   ModelUdf m = ModelUdf.of("modelport.models.M");
 *   df.select(m.apply(col("age"), col("income"), col("city")));  // model input order
 *   df.select(m.apply());                                         // all inputs, by name
 *   m.register(spark, "m");  // SQL: SELECT m(struct(age, income, city)) FROM t
 * </pre>
 *
 * <p>A value reaches the model as the CSV program reads the text of that value: a number is its
 * exact value (a double for a float32 column is rounded to nearest even, as numpy's float64 to
 * float32), null is a missing value (NaN in a number column, the empty string in a string
 * column), a string column's value must be one of a closed column's levels. Types the CSV
 * program would refuse or read differently (a string in a number column, a fraction or a null
 * in an int64 column) fail the row with a message naming the column: cast them in Spark.
 */
public final class ModelUdf implements UDF1<Row, Row> {
  private static final long serialVersionUID = 1L;

  private final String modelClass;
  private transient volatile ModelSpec spec;
  private transient volatile ThreadLocal<Buffers> buffers;

  /** The function of the generated class {@code modelClass} (e.g. modelport.models.M). */
  public ModelUdf(String modelClass) {
    if (modelClass == null || modelClass.isEmpty()) {
      throw new IllegalArgumentException("no model class given (e.g. modelport.models.M)");
    }
    this.modelClass = modelClass;
  }

  /** The function of the generated class {@code modelClass}, checked to be loadable now. */
  public static ModelUdf of(String modelClass) {
    ModelUdf m = new ModelUdf(modelClass);
    m.spec();
    return m;
  }

  /** The generated class this function runs. */
  public String modelClass() {
    return modelClass;
  }

  /** The model's input column names, in the order {@link #apply(Column...)} takes them. */
  public String[] inputColumns() {
    ColumnSpec[] cols = spec().inputColumns;
    String[] names = new String[cols.length];
    for (int i = 0; i < cols.length; i++) {
      names[i] = cols[i].name;
    }
    return names;
  }

  /** The struct of input columns the function takes (field types as Spark's columns give). */
  public StructType inputType() {
    ModelSpec s = spec();
    List<StructField> fields = new ArrayList<>();
    for (ColumnSpec c : s.inputColumns) {
      fields.add(DataTypes.createStructField(c.name, sparkType(s.inputs[c.tensor].dtype), true));
    }
    return DataTypes.createStructType(fields);
  }

  /** The struct of output columns: names of the CSV program's header, types of the tensors. */
  public StructType outputType() {
    ModelSpec s = spec();
    List<StructField> fields = new ArrayList<>();
    for (ColumnSpec c : s.outputColumns) {
      fields.add(DataTypes.createStructField(c.name, sparkType(s.outputs[c.tensor].dtype), false));
    }
    return DataTypes.createStructType(fields);
  }

  /** float32 -> FloatType, float64 -> DoubleType, int64 -> LongType, string -> StringType. */
  static DataType sparkType(DType t) {
    switch (t) {
      case F32: return DataTypes.FloatType;
      case F64: return DataTypes.DoubleType;
      case I64: return DataTypes.LongType;
      default: return DataTypes.StringType;
    }
  }

  /** The Spark function: takes one struct of the input columns in model order. */
  public UserDefinedFunction udf() {
    return functions.udf(this, outputType()).withName(spec().modelName);
  }

  /** Registers the function under {@code name} for SQL and {@code call_function}. */
  public UserDefinedFunction register(SparkSession spark, String name) {
    return spark.udf().register(name, udf());
  }

  /**
   * The output struct for the given input columns, one per model input column in model order
   * ({@link #inputColumns()}); with none, the DataFrame's columns named as the model's inputs.
   */
  public Column apply(Column... cols) {
    String[] names = inputColumns();
    if (cols.length != 0 && cols.length != names.length) {
      throw new IllegalArgumentException("the model \"" + spec().modelName + "\" takes "
          + names.length + " input columns (" + String.join(", ", names) + "), got "
          + cols.length + ": pass one column per input, in this order, or none to take them by"
          + " name");
    }
    Column[] fields = new Column[names.length];
    for (int i = 0; i < names.length; i++) {
      fields[i] = (cols.length == 0 ? functions.col(quoted(names[i])) : cols[i]).as(names[i]);
    }
    return udf().apply(functions.struct(fields));
  }

  /** A column name as Spark's col() reads it literally (dots, spaces and backticks kept). */
  static String quoted(String name) {
    return "`" + name.replace("`", "``") + "`";
  }

  /** The model's description, for error messages and users. */
  ModelSpec spec() {
    ModelSpec s = spec;
    if (s == null) {
      synchronized (this) {
        s = spec;
        if (s == null) {
          s = loadSpec(modelClass);
          spec = s;
        }
      }
    }
    return s;
  }

  static ModelSpec loadSpec(String modelClass) {
    Class<?> cls;
    try {
      ClassLoader cl = Thread.currentThread().getContextClassLoader();
      cls = Class.forName(modelClass, true, cl != null ? cl : ModelUdf.class.getClassLoader());
    } catch (ClassNotFoundException e) {
      try {
        cls = Class.forName(modelClass, true, ModelUdf.class.getClassLoader());
      } catch (ClassNotFoundException e2) {
        throw new IllegalStateException("model class " + modelClass + " not found: put the"
            + " model's Spark jar on the classpath (spark-submit --jars NAME-spark.jar)", e2);
      }
    }
    try {
      return (ModelSpec) cls.getField("SPEC").get(null);
    } catch (ReflectiveOperationException | ClassCastException e) {
      throw new IllegalStateException(modelClass + " is not a model compiled by modelport"
          + " (no public static ModelSpec SPEC)", e);
    }
  }

  /** One row's input and output tensors, reused by a thread. */
  private static final class Buffers {
    final Object[] ins;
    final Object[] outs;

    Buffers(ModelSpec s) {
      ins = new Object[s.inputs.length];
      for (int i = 0; i < ins.length; i++) {
        ins[i] = s.inputs[i].dtype.allocate(s.inputs[i].rowSize);
      }
      outs = new Object[s.outputs.length];
      for (int i = 0; i < outs.length; i++) {
        outs[i] = s.outputs[i].dtype.allocate(s.outputs[i].rowSize);
      }
    }
  }

  private Buffers buffers(ModelSpec s) {
    ThreadLocal<Buffers> tl = buffers;
    if (tl == null) {
      synchronized (this) {
        tl = buffers;
        if (tl == null) {
          tl = ThreadLocal.withInitial(() -> new Buffers(s));
          buffers = tl;
        }
      }
    }
    return tl.get();
  }

  @Override
  public Row call(Row in) {
    ModelSpec s = spec();
    ColumnSpec[] cols = s.inputColumns;
    if (in == null || in.size() != cols.length) {
      throw new IllegalArgumentException("model \"" + s.modelName + "\": expected a struct of "
          + cols.length + " input columns, got " + (in == null ? "null" : in.size() + " fields"));
    }
    Buffers b = buffers(s);
    for (int k = 0; k < cols.length; k++) {
      ColumnSpec c = cols[k];
      String error = set(s.inputs[c.tensor], b.ins[c.tensor], c.offset, in.get(k), c);
      if (error != null) {
        throw new IllegalArgumentException("model \"" + s.modelName + "\", column \"" + c.name
            + "\": " + error);
      }
    }
    s.checkLevels(b.ins, 1);
    s.runner.run(b.ins, b.outs, 1);
    ColumnSpec[] outCols = s.outputColumns;
    Object[] values = new Object[outCols.length];
    for (int k = 0; k < outCols.length; k++) {
      ColumnSpec c = outCols[k];
      Object out = b.outs[c.tensor];
      switch (s.outputs[c.tensor].dtype) {
        case F32: values[k] = ((float[]) out)[c.offset]; break;
        case F64: values[k] = ((double[]) out)[c.offset]; break;
        case I64: values[k] = ((long[]) out)[c.offset]; break;
        default: {
          String v = ((String[]) out)[c.offset];
          values[k] = v == null ? "" : v;
          break;
        }
      }
    }
    return RowFactory.create(values);
  }

  /**
   * Writes one value into element {@code idx} of a tensor as the CSV program reads its text;
   * returns null, or what is wrong with the value.
   */
  static String set(TensorSpec t, Object array, int idx, Object v, ColumnSpec c) {
    switch (t.dtype) {
      case F32:
      case F64: {
        double d;
        if (v == null) {
          d = Double.NaN;
        } else if (v instanceof Double) {
          d = (Double) v;
        } else if (v instanceof Float) {
          d = (Float) v; // exactly its value, as Spark's cast to double
        } else if (v instanceof Long || v instanceof Integer || v instanceof Short
            || v instanceof Byte) {
          d = (double) ((Number) v).longValue(); // nearest double, as the integer's text parses
        } else if (v instanceof BigDecimal) {
          d = Double.parseDouble(((BigDecimal) v).toString());
        } else {
          return typeError(v, "a number (float, double, integer or decimal; null is missing)", "double");
        }
        if (t.dtype == DType.F32) {
          ((float[]) array)[idx] = (float) d;
        } else {
          ((double[]) array)[idx] = d;
        }
        return null;
      }
      case I64: {
        if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
          ((long[]) array)[idx] = ((Number) v).longValue();
          return null;
        }
        if (v == null) {
          return "null in an int64 column (a missing value is not accepted here; fill it first)";
        }
        return typeError(v, "an integer (long, int, short or byte)", "long");
      }
      default: {
        if (v == null) {
          ((String[]) array)[idx] = ""; // missing, as an empty CSV field
          return null;
        }
        if (!(v instanceof String)) {
          return typeError(v, "a string (null is missing)", "string");
        }
        ((String[]) array)[idx] = (String) v;
        return null;
      }
    }
  }

  private static String typeError(Object v, String wanted, String cast) {
    String text = String.valueOf(v);
    if (text.length() > 100) {
      text = text.substring(0, 100) + "...";
    }
    if (v instanceof String) {
      text = "\"" + text + "\"";
    }
    return "got " + v.getClass().getSimpleName() + " " + text + ", expected " + wanted
        + ": cast the column in Spark (col.cast(\"" + cast + "\"))";
  }

  @Override
  public String toString() {
    return "ModelUdf(" + modelClass + ")";
  }
}
